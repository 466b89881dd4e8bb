"""LLM calls instrumented as Llm scope actors: :func:`execute` and :func:`stream_execute`."""

from actrio.actors._calls import LLMStream
from actrio.actors._calls import execute_llm as execute
from actrio.actors._calls import stream_llm as stream_execute

__all__ = ("LLMStream", "execute", "stream_execute")

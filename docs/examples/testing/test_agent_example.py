"""Testing an agent with actrio's pytest plugin: scripted models, events, virtual time.

Enable the plugin in conftest.py: pytest_plugins = ["actrio.testing.pytest_plugin"]
"""

import trio

import actrio
from actrio.agents import RunEnded, ToolCallEnded
from actrio.testing import Turn


@actrio.tool
async def lookup(city: str) -> str:
    """The weather in a city."""
    await trio.sleep(2)  # virtual time: the test does not wait
    return f"sunny in {city}"


async def test_the_agent_uses_the_tool_and_answers(
    actrio_runtime, actrio_events, scripted_model, autojump_clock
):
    model = scripted_model(
        Turn.tool_call("lookup", {"city": "Oslo"}),
        Turn.text("It is sunny in Oslo."),
    )
    agent = actrio.Agent("weather", "Use the tool.", model, tools=[lookup])

    result = await actrio_runtime.run(agent, "Weather in Oslo?")

    assert result.output == "It is sunny in Oslo."
    (ended,) = actrio_events.of(ToolCallEnded)
    assert (ended.tool, ended.output) == ("lookup", "sunny in Oslo")
    assert model.requests[1].messages[-1].role == "tool"  # the model saw the result
    await actrio_events.wait_for(RunEnded)


async def test_a_cancelled_run_says_so(actrio_runtime, scripted_model, autojump_clock):
    agent = actrio.Agent(
        "weather", "", scripted_model(Turn.tool_call("lookup", {"city": "Oslo"}), allow_unused=True),
        tools=[lookup],
    )
    stream = actrio_runtime.stream(agent, "Weather?")
    async with stream:
        async for event in stream:
            if isinstance(event, actrio.agents.ToolCallStarted):
                actrio_runtime.cancel(stream.run_id, "changed my mind")
    assert stream.result.status == "cancelled"
    assert stream.result.reason == "changed my mind"

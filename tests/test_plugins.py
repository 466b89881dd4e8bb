"""Plugins: install and uninstall as one, TOML activation, entry-point discovery."""

from __future__ import annotations

import sys
import textwrap
from typing import TYPE_CHECKING, Any, Literal

import attrs
import pytest
import trio
import trio.testing

import actrio
from actrio.kernel import UsageError
from actrio.middleware._exceptions import PluginConfigError, PluginError
from actrio.middleware._plugins import (
    PLUGIN_GROUP,
    Plugin,
    PluginManager,
    PluginRegistry,
    discover_plugins,
)
from actrio.middleware._registry import STAGES, MiddlewareRegistry

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


@attrs.frozen(kw_only=True)
class PluginPing(actrio.Event):
    kind: Literal["plugin-ping"] = "plugin-ping"
    n: int


class FakeSubscription:
    """Stands in for a kernel Subscription where no system is running."""

    def __init__(self, handler: Any, options: dict[str, Any]) -> None:
        self.handler = handler
        self.options = options
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


class FakeSystem:
    def __init__(self) -> None:
        self.subscriptions: list[FakeSubscription] = []

    def subscribe(self, handler: Any, **options: Any) -> Any:
        subscription = FakeSubscription(handler, options)
        self.subscriptions.append(subscription)
        return subscription


@pytest.fixture
def middleware() -> MiddlewareRegistry:
    return MiddlewareRegistry()


@pytest.fixture
def system() -> FakeSystem:
    return FakeSystem()


@pytest.fixture
def manager(middleware: MiddlewareRegistry, system: FakeSystem) -> PluginManager:
    return PluginManager(middleware, system.subscribe)


def all_entries(registry: MiddlewareRegistry) -> list[tuple[str, str, str | None]]:
    return [(r.stage, r.name, r.owner) for stage in STAGES for r in registry.entries(stage)]


class Recorder:
    """A plugin that registers two middleware and one subscriber, and records calls."""

    def __init__(
        self,
        name: str = "rec",
        *,
        fail: BaseException | None = None,
        fail_uninstall: BaseException | None = None,
    ) -> None:
        self.name = name
        self.fail = fail
        self.fail_uninstall = fail_uninstall
        self.configs: list[Any] = []
        self.registries: list[PluginRegistry] = []
        self.uninstalled = 0

    def install(self, registry: PluginRegistry, config: Any) -> None:
        self.configs.append(config)
        self.registries.append(registry)
        registry.register("tool_request", f"{self.name}-a", 10, lambda *a: None)
        registry.register("llm_request", f"{self.name}-b", 20, lambda *a: None)
        registry.subscribe(lambda event: None)
        if self.fail is not None:
            raise self.fail

    def uninstall(self) -> None:
        self.uninstalled += 1
        if self.fail_uninstall is not None:
            raise self.fail_uninstall


@attrs.frozen
class Inner:
    depth: int = 1


@attrs.frozen
class Settings:
    level: int
    label: str = "x"
    inner: Inner = Inner()


def check_positive(instance: Any, attribute: Any, value: int) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive")


@attrs.frozen
class Checked:
    size: int = attrs.field(validator=check_positive)


class Configured:
    """A plugin with a ``config_type``."""

    config_type: Any = Settings

    def __init__(self, name: str = "configured", config_type: Any = None) -> None:
        self.name = name
        if config_type is not None:
            self.config_type = config_type
        self.configs: list[Any] = []

    def install(self, registry: PluginRegistry, config: Any) -> None:
        self.configs.append(config)


class Custom(Exception):
    pass


class Fatal(BaseException):
    pass


# ---------------------------------------------------------------- install / uninstall


def test_install_registers_owned_middleware_and_uninstall_removes_it(
    manager: PluginManager, middleware: MiddlewareRegistry, system: FakeSystem
) -> None:
    middleware.register("tool_request", "mine", 0, lambda *a: None)
    plugin = Recorder()
    assert isinstance(plugin, Plugin)
    manager.install(plugin)
    assert manager.installed() == ("rec",)
    assert plugin.configs == [{}]
    assert ("tool_request", "rec-a", "rec") in all_entries(middleware)
    assert ("llm_request", "rec-b", "rec") in all_entries(middleware)
    assert plugin.registries[0].plugin == "rec"
    assert repr(plugin.registries[0]) == "<PluginRegistry of 'rec'>"
    assert repr(manager) == "<PluginManager installed=['rec']>"
    (subscription,) = system.subscriptions
    assert subscription.options == {"name": "plugin:rec"}

    assert manager.uninstall("rec") is True
    assert plugin.uninstalled == 1
    assert manager.installed() == ()
    assert all_entries(middleware) == [("tool_request", "mine", None)]
    assert subscription.closed == 1
    assert manager.uninstall("rec") is False
    assert plugin.uninstalled == 1


def test_a_registry_refuses_registrations_after_uninstall(manager: PluginManager) -> None:
    plugin = Recorder()
    manager.install(plugin)
    manager.uninstall("rec")
    registry = plugin.registries[0]
    with pytest.raises(UsageError, match="'rec' is uninstalled"):
        registry.register("tool_request", "late", 0, lambda *a: None)
    with pytest.raises(UsageError, match="'rec' is uninstalled"):
        registry.subscribe(lambda event: None)


def test_install_order_is_kept_and_a_plugin_without_uninstall_hook_is_fine(
    manager: PluginManager, middleware: MiddlewareRegistry
) -> None:
    class Bare:
        name = "bare"

        def install(self, registry: PluginRegistry, config: Any) -> None:
            registry.register("llm_execution", "bare", 0, lambda *a: None)

    manager.install(Recorder("b"))
    manager.install(Bare())
    manager.install(Recorder("a"))
    assert manager.installed() == ("b", "bare", "a")
    assert manager.uninstall("bare") is True
    assert manager.installed() == ("b", "a")
    assert all(owner != "bare" for _, _, owner in all_entries(middleware))


async def test_subscriptions_are_closed_on_uninstall() -> None:
    seen: list[int] = []
    named: list[str] = []

    class Listener:
        name = "listener"

        def install(self, registry: PluginRegistry, config: Any) -> None:
            registry.subscribe(
                lambda e: seen.append(e.n) if isinstance(e, PluginPing) else None,
            )
            registry.subscribe(
                lambda e: named.append(type(e).__name__), types=[PluginPing], name="custom"
            )

    async with actrio.open_actor_system() as system:
        manager = PluginManager(MiddlewareRegistry(), system.subscribe)
        manager.install(Listener())
        await system.publish(PluginPing(n=1))
        await trio.testing.wait_all_tasks_blocked()
        assert seen == [1]
        assert named == ["PluginPing"]

        manager.uninstall("listener")
        await system.publish(PluginPing(n=2))
        await trio.testing.wait_all_tasks_blocked()
        assert seen == [1]
        assert named == ["PluginPing"]


async def test_subscription_names_default_to_the_plugin() -> None:
    subscriptions: list[actrio.Subscription] = []

    class Listener:
        name = "listener"

        def install(self, registry: PluginRegistry, config: Any) -> None:
            subscriptions.append(registry.subscribe(lambda e: None))
            subscriptions.append(registry.subscribe(lambda e: None, name="mine", mode="lossy"))

    async with actrio.open_actor_system() as system:
        manager = PluginManager(MiddlewareRegistry(), system.subscribe)
        manager.install(Listener())
        assert [s.statistics().name for s in subscriptions] == ["plugin:listener", "mine"]
        assert subscriptions[1].statistics().mode == "lossy"
        assert all(s.statistics().active for s in subscriptions)
        manager.uninstall("listener")
        assert not any(s.statistics().active for s in subscriptions)


def test_the_same_name_twice_is_refused(manager: PluginManager) -> None:
    manager.install(Recorder())
    with pytest.raises(PluginError, match="already installed; uninstall it first") as info:
        manager.install(Recorder())
    assert info.value.plugin == "rec"
    manager.uninstall("rec")
    manager.install(Recorder())
    assert manager.installed() == ("rec",)


def test_a_failing_install_is_rolled_back(
    manager: PluginManager, middleware: MiddlewareRegistry, system: FakeSystem
) -> None:
    plugin = Recorder(fail=Custom("boom"))
    with pytest.raises(PluginError, match=r"install\(\) raised Custom: boom") as info:
        manager.install(plugin)
    assert isinstance(info.value.__cause__, Custom)
    assert info.value.plugin == "rec"
    assert manager.installed() == ()
    assert all_entries(middleware) == []
    assert [s.closed for s in system.subscriptions] == [1]
    assert plugin.uninstalled == 0  # the hook only undoes a complete install
    with pytest.raises(UsageError):
        plugin.registries[0].register("tool_request", "late", 0, lambda *a: None)


def test_a_base_exception_in_install_is_rolled_back_and_propagates(
    manager: PluginManager, middleware: MiddlewareRegistry, system: FakeSystem
) -> None:
    with pytest.raises(Fatal):
        manager.install(Recorder(fail=Fatal()))
    assert manager.installed() == ()
    assert all_entries(middleware) == []
    assert [s.closed for s in system.subscriptions] == [1]


def test_an_error_without_message_is_described_by_its_type(manager: PluginManager) -> None:
    with pytest.raises(PluginError, match=r"install\(\) raised Custom$"):
        manager.install(Recorder(fail=Custom()))


@pytest.mark.parametrize(
    ("plugin", "match"),
    [
        (object(), "expected a Plugin .* got object"),
        (attrs.make_class("NoInstall", {"name": attrs.field(default="x")})(), "got NoInstall"),
        (
            attrs.make_class(
                "BadInstall",
                {"name": attrs.field(default="x"), "install": attrs.field(default=3)},
            )(),
            "got BadInstall",
        ),
        (Recorder(""), "non-empty string, not ''"),
        (Recorder(3), "non-empty string, not 3"),  # type: ignore[arg-type]
    ],
)
def test_install_refuses_what_is_not_a_plugin(
    manager: PluginManager, plugin: Any, match: str
) -> None:
    with pytest.raises(UsageError, match=match):
        manager.install(plugin)
    assert manager.installed() == ()


def test_a_registration_error_inside_install_becomes_a_plugin_error(
    manager: PluginManager, middleware: MiddlewareRegistry
) -> None:
    class BadStage:
        name = "bad"

        def install(self, registry: PluginRegistry, config: Any) -> None:
            registry.register("tool_request", "ok", 0, lambda *a: None)
            registry.register("nope", "x", 0, lambda *a: None)  # type: ignore[arg-type]

    with pytest.raises(PluginError, match="unknown middleware stage") as info:
        manager.install(BadStage())
    assert isinstance(info.value.__cause__, UsageError)
    assert all_entries(middleware) == []


# ---------------------------------------------------------------- the uninstall hook


def test_an_uninstall_hook_error_is_raised_after_cleanup(
    manager: PluginManager, middleware: MiddlewareRegistry, system: FakeSystem
) -> None:
    plugin = Recorder(fail_uninstall=Custom("stuck"))
    manager.install(plugin)
    with pytest.raises(PluginError, match=r"uninstall\(\) raised Custom: stuck") as info:
        manager.uninstall("rec")
    assert isinstance(info.value.__cause__, Custom)
    assert manager.installed() == ()
    assert all_entries(middleware) == []
    assert system.subscriptions[0].closed == 1


def test_a_base_exception_in_the_uninstall_hook_still_cleans_up(
    manager: PluginManager, middleware: MiddlewareRegistry
) -> None:
    manager.install(Recorder(fail_uninstall=Fatal()))
    with pytest.raises(Fatal):
        manager.uninstall("rec")
    assert manager.installed() == ()
    assert all_entries(middleware) == []


# ---------------------------------------------------------------- config


def test_config_without_config_type_is_a_dict_copy(manager: PluginManager) -> None:
    plugin = Recorder()
    table = {"a": 1}
    manager.install(plugin, table)
    assert plugin.configs == [{"a": 1}]
    assert plugin.configs[0] is not table


@pytest.mark.parametrize("config", [3, "level=1", [("a", 1)]])
def test_config_must_be_a_table(manager: PluginManager, config: Any) -> None:
    with pytest.raises(PluginConfigError, match="expected a table") as info:
        manager.install(Recorder(), config)
    assert info.value.where == "config"
    assert manager.installed() == ()


def test_config_type_structures_the_table(manager: PluginManager) -> None:
    plugin = Configured()
    manager.install(plugin, {"level": 3, "inner": {"depth": 2}})
    assert plugin.configs == [Settings(level=3, inner=Inner(depth=2))]


def test_config_type_takes_an_instance_as_is(manager: PluginManager) -> None:
    plugin = Configured()
    settings = Settings(level=1)
    manager.install(plugin, settings)
    assert plugin.configs[0] is settings


def test_config_type_with_no_config_uses_the_defaults(manager: PluginManager) -> None:
    plugin = Configured(config_type=Inner)
    manager.install(plugin)
    assert plugin.configs == [Inner()]


@pytest.mark.parametrize(
    ("config", "where", "match"),
    [
        ({}, "config.level", "required field missing"),
        ({"level": "high"}, "config.level", "expected int"),
        ({"level": 1, "lvl": 2}, "config.lvl", "unknown key; allowed keys: level, label, inner"),
        ({"level": 1, "my key": 2}, 'config."my key"', "unknown key"),
        ({"level": 1, "inner": {"depth": "x"}}, "config.inner.depth", "expected int"),
        ({"level": 1, "inner": {"dpth": 1}}, "config.inner.dpth", "allowed keys: depth$"),
        ({"level": 1, "inner": 5}, "config.inner", "expected Inner"),
    ],
)
def test_config_errors_name_the_key(
    manager: PluginManager, config: dict[str, Any], where: str, match: str
) -> None:
    with pytest.raises(PluginConfigError, match=match) as info:
        manager.install(Configured(), config)
    assert info.value.where == where
    assert str(info.value).startswith(f"{where}: ")
    assert isinstance(info.value, ValueError)
    assert manager.installed() == ()


def test_several_config_errors_are_all_reported(manager: PluginManager) -> None:
    with pytest.raises(PluginConfigError) as info:
        manager.install(Configured(), {"level": "x", "b": 1, "a": 2})
    assert info.value.where == "config.level"
    message = str(info.value)
    assert "also config.a: unknown key" in message
    assert "config.b: unknown key" in message


def test_a_validator_error_is_reported_with_its_message(manager: PluginManager) -> None:
    with pytest.raises(PluginConfigError, match=r"invalid value \(size must be positive\)") as info:
        manager.install(Configured(config_type=Checked), {"size": 0})
    assert info.value.where == "config"


def test_config_type_must_be_an_attrs_class(manager: PluginManager) -> None:
    with pytest.raises(PluginError, match="config_type must be an attrs class") as info:
        manager.install(Configured(config_type=dict), {})
    assert info.value.plugin == "configured"


# ---------------------------------------------------------------- activate


REC_TOML = """
[[plugins]]
name = "first"

[[plugins]]
name = "off"
enabled = false

[[plugins]]
name = "configured"
enabled = true
[plugins.config]
level = 2
label = "two"
"""


def test_activate_installs_the_enabled_plugins_in_order(manager: PluginManager) -> None:
    first, off, configured = Recorder("first"), Recorder("off"), Configured()
    available: dict[str, Plugin] = {"first": first, "off": off, "configured": configured}
    assert manager.activate(REC_TOML, available=available) == ("first", "configured")
    assert manager.installed() == ("first", "configured")
    assert first.configs == [{}]
    assert off.configs == []
    assert configured.configs == [Settings(level=2, label="two")]


def test_activate_reads_a_file(manager: PluginManager, tmp_path: Path) -> None:
    path = tmp_path / "plugins.toml"
    path.write_text('[[plugins]]\nname = "rec"\nconfig = { level = "x" }\n', encoding="utf-8")
    plugin = Recorder()
    assert manager.activate(path, available={"rec": plugin}) == ("rec",)
    assert plugin.configs == [{"level": "x"}]


def test_activate_takes_a_mapping(manager: PluginManager) -> None:
    document = {"plugins": [{"name": "rec", "config": {"k": [1, 2]}}]}
    plugin = Recorder()
    assert manager.activate(document, available={"rec": plugin}) == ("rec",)
    assert plugin.configs == [{"k": [1, 2]}]


@pytest.mark.parametrize("source", ["", "plugins = []", {}, {"plugins": []}])
def test_activate_with_no_plugins_installs_nothing(manager: PluginManager, source: Any) -> None:
    assert manager.activate(source, available={}) == ()


def test_a_disabled_entry_is_not_looked_up(manager: PluginManager) -> None:
    toml = '[[plugins]]\nname = "not-installed-here"\nenabled = false\nconfig = { a = 1 }\n'
    assert manager.activate(toml, available={}) == ()


@pytest.mark.parametrize(
    ("source", "where", "match"),
    [
        ('plugns = []\n[[plugins]]\nname = "rec"', "plugns", "only allowed key is 'plugins'"),
        ({1: []}, "1", "unknown key"),
        ('plugins = "rec"', "plugins", "expected an array of tables, got str"),
        ("plugins = [1]", "plugins[0]", "expected a table, got int"),
        (
            '[[plugins]]\nname = "rec"\n[[plugins]]\nnmae = "b"',
            "plugins[1].nmae",
            "unknown key; allowed keys: config, enabled, name",
        ),
        ('[[plugins]]\nname = "rec"\n"my key" = 1', 'plugins[0]."my key"', "unknown key"),
        ("[[plugins]]\nenabled = true", "plugins[0].name", "required key missing"),
        ('[[plugins]]\nname = ""', "plugins[0].name", "expected a non-empty string, got ''"),
        ("[[plugins]]\nname = 3", "plugins[0].name", "expected a non-empty string, got 3"),
        (
            '[[plugins]]\nname = "rec"\nenabled = "yes"',
            "plugins[0].enabled",
            "expected true or false, got 'yes'",
        ),
        ('[[plugins]]\nname = "rec"\nconfig = 3', "plugins[0].config", "expected a table, got int"),
        (
            '[[plugins]]\nname = "rec"\n[[plugins]]\nname = "rec"\nenabled = false',
            "plugins[1].name",
            "'rec' is listed twice",
        ),
        (
            '[[plugins]]\nname = "rec"\n'
            '[[plugins]]\nname = "configured"\nconfig = { level = "hi" }',
            "plugins[1].config.level",
            "expected int",
        ),
        (
            '[[plugins]]\nname = "configured"\n[plugins.config]\nlevel = 1\nlvl = 2',
            "plugins[0].config.lvl",
            "unknown key; allowed keys: level, label, inner",
        ),
        ('[[plugins]]\nname = "nope"', "plugins[0].name", "unknown plugin 'nope'"),
    ],
)
def test_configuration_errors_name_the_key(
    manager: PluginManager, middleware: MiddlewareRegistry, source: Any, where: str, match: str
) -> None:
    available: dict[str, Plugin] = {"rec": Recorder(), "configured": Configured()}
    with pytest.raises(PluginConfigError, match=match) as info:
        manager.activate(source, available=available)
    assert info.value.where == where
    assert isinstance(info.value, UsageError)
    # Everything is checked before anything is installed.
    assert manager.installed() == ()
    assert all_entries(middleware) == []


def test_an_unknown_plugin_lists_the_known_ones(manager: PluginManager) -> None:
    toml = '[[plugins]]\nname = "rec"\n[[plugins]]\nname = "redcat"'
    with pytest.raises(PluginConfigError) as info:
        manager.activate(toml, available={"rec": Recorder(), "redact": Recorder("redact")})
    assert info.value.where == "plugins[1].name"
    assert str(info.value) == (
        "plugins[1].name: unknown plugin 'redcat'; known plugins: rec, redact"
    )
    with pytest.raises(PluginConfigError, match="known plugins: none"):
        manager.activate(toml, available={})


def test_a_toml_syntax_error_gives_the_line(manager: PluginManager, tmp_path: Path) -> None:
    text = '[[plugins]]\nname = "rec"\nconfig = { level = }\n'
    with pytest.raises(PluginConfigError, match=r"invalid TOML: .*line 3, column") as info:
        manager.activate(text, available={})
    assert info.value.where == "<string>"
    assert isinstance(info.value.__cause__, Exception)

    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PluginConfigError, match="line 3") as info:
        manager.activate(path, available={})
    assert info.value.where == str(path)


def test_a_path_passed_as_str_gets_a_hint(manager: PluginManager) -> None:
    with pytest.raises(PluginConfigError, match=r"pass a pathlib\.Path to read a file"):
        manager.activate("plugins.toml", available={})


def test_an_unreadable_file_is_a_config_error(manager: PluginManager, tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(PluginConfigError, match="cannot read the file") as info:
        manager.activate(missing, available={})
    assert info.value.where == str(missing)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PluginConfigError, match="cannot read the file"):
        manager.activate(binary, available={})


def test_activate_refuses_other_source_types(manager: PluginManager) -> None:
    with pytest.raises(UsageError, match="Path, TOML text or a mapping, not bytes"):
        manager.activate(b"plugins = []", available={})  # type: ignore[arg-type]


def test_activation_is_atomic(
    manager: PluginManager, middleware: MiddlewareRegistry, system: FakeSystem
) -> None:
    middleware.register("tool_request", "mine", 0, lambda *a: None)
    a, b, c = Recorder("a"), Recorder("b"), Recorder("c", fail=Custom("no"))
    toml = "".join(f'[[plugins]]\nname = "{n}"\n' for n in "abc")
    with pytest.raises(PluginError, match="install") as info:
        manager.activate(toml, available={"a": a, "b": b, "c": c})
    assert info.value.plugin == "c"
    assert manager.installed() == ()
    assert all_entries(middleware) == [("tool_request", "mine", None)]
    assert [s.closed for s in system.subscriptions] == [1, 1, 1]
    assert (a.uninstalled, b.uninstalled, c.uninstalled) == (1, 1, 0)


def test_activation_rollback_survives_a_failing_uninstall_hook(
    manager: PluginManager, middleware: MiddlewareRegistry
) -> None:
    a = Recorder("a", fail_uninstall=Custom("stuck"))
    b = Recorder("b", fail=Custom("no"))
    toml = '[[plugins]]\nname = "a"\n[[plugins]]\nname = "b"\n'
    with pytest.raises(PluginError) as info:
        manager.activate(toml, available={"a": a, "b": b})
    assert info.value.plugin == "b"
    assert any("while rolling back: plugin 'a'" in note for note in info.value.__notes__)
    assert manager.installed() == ()
    assert all_entries(middleware) == []


def test_activate_refuses_an_installed_name_before_installing_anything(
    manager: PluginManager,
) -> None:
    manager.install(Recorder("b"))
    a = Recorder("a")
    toml = '[[plugins]]\nname = "a"\n[[plugins]]\nname = "b"\n'
    with pytest.raises(PluginError, match="uninstall it first"):
        manager.activate(toml, available={"a": a, "b": Recorder("b")})
    assert a.configs == []
    assert manager.installed() == ("b",)


def test_activate_keeps_earlier_installs_of_other_calls(manager: PluginManager) -> None:
    manager.install(Recorder("kept"))
    toml = '[[plugins]]\nname = "bad"\n'
    with pytest.raises(PluginError):
        manager.activate(toml, available={"bad": Recorder("bad", fail=Custom())})
    assert manager.installed() == ("kept",)


def test_available_plugins_may_be_factories_or_classes(manager: PluginManager) -> None:
    made: list[Recorder] = []

    def factory() -> Recorder:
        made.append(Recorder("made"))
        return made[-1]

    class Classy(Recorder):
        def __init__(self) -> None:
            super().__init__("classy")

    toml = '[[plugins]]\nname = "made"\n[[plugins]]\nname = "classy"\n'
    assert manager.activate(toml, available={"made": factory, "classy": Classy}) == (
        "made",
        "classy",
    )
    assert len(made) == 1


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        (lambda: Recorder("other"), "gave a plugin named 'other'"),
        (Recorder("other"), "gave a plugin named 'other'"),
        (lambda: 42, "is not a valid plugin: expected a Plugin"),
        (42, "is not a valid plugin"),
        (lambda: Recorder(""), "non-empty string"),
        (lambda: 1 / 0, "failed to make the plugin: ZeroDivisionError"),
    ],
)
def test_bad_available_plugins_are_plugin_errors(
    manager: PluginManager, entry: Any, match: str
) -> None:
    with pytest.raises(PluginError, match=match) as info:
        manager.activate('[[plugins]]\nname = "p"', available={"p": entry})
    assert info.value.plugin == "p"
    assert "available plugin 'p'" in str(info.value)
    assert manager.installed() == ()


# ---------------------------------------------------------------- entry points


FAKE_MODULE = textwrap.dedent(
    """
    class RedactPlugin:
        name = "redact"

        def install(self, registry, config):
            registry.register("llm_sanitize_request", "redact", 5, lambda request: request)


    INSTANCE = RedactPlugin()
    INSTANCE.name = "instance"
    NOT_A_PLUGIN = object()


    def make_misnamed():
        return RedactPlugin()


    def needs_args(x):
        return RedactPlugin()
    """
)


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Make fake distributions on a fresh sys.path entry; clean sys.modules after."""
    site = tmp_path / "site"
    site.mkdir()
    modules: list[str] = []

    def make(dist: str, entry_points: str, **sources: str) -> None:
        for module, source in sources.items():
            (site / f"{module}.py").write_text(source, encoding="utf-8")
            modules.append(module)
        info = site / f"{dist}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")
        monkeypatch.syspath_prepend(str(site))

    yield make
    for module in modules:
        # Only after the test: monkeypatch.delitem on an absent key records nothing.
        sys.modules.pop(module, None)


def test_discover_finds_a_real_entry_point(
    fake_site: Callable[..., None], manager: PluginManager, middleware: MiddlewareRegistry
) -> None:
    fake_site(
        "fakeplug",
        "[actrio.plugins]\nredact = fakeplug_mod:RedactPlugin\n",
        fakeplug_mod=FAKE_MODULE,
    )
    found = discover_plugins()
    assert "redact" in found
    assert "fakeplug_mod" not in sys.modules  # loading is lazy
    plugin = found["redact"]()
    assert isinstance(plugin, Plugin)
    assert plugin.name == "redact"

    assert manager.activate('[[plugins]]\nname = "redact"\n') == ("redact",)
    (registration,) = middleware.entries("llm_sanitize_request")
    assert (registration.name, registration.owner, registration.priority) == ("redact", "redact", 5)


def test_discover_handles_every_kind_of_entry_point(fake_site: Callable[..., None]) -> None:
    group = "actrio.plugins.test-kinds"
    fake_site(
        "fakekinds",
        textwrap.dedent(
            f"""
            [{group}]
            instance = fakekinds_mod:INSTANCE
            redact = fakekinds_mod:make_misnamed
            misnamed = fakekinds_mod:make_misnamed
            notplugin = fakekinds_mod:NOT_A_PLUGIN
            needsargs = fakekinds_mod:needs_args
            missing = fakekinds_mod:NOPE
            broken = fakekinds_broken:Plugin
            """
        ),
        fakekinds_mod=FAKE_MODULE,
        fakekinds_broken="raise RuntimeError('cannot import me')\n",
    )
    found = discover_plugins(group)
    assert sorted(found) == sorted(
        ["instance", "redact", "misnamed", "notplugin", "needsargs", "missing", "broken"]
    )
    assert found["instance"]().name == "instance"
    assert found["instance"]() is found["instance"]()
    assert found["redact"]().name == "redact"

    with pytest.raises(PluginError, match="gave a plugin named 'redact'") as info:
        found["misnamed"]()
    assert info.value.plugin == "misnamed"
    assert "entry point misnamed = 'fakekinds_mod:make_misnamed' (from fakekinds)" in str(
        info.value
    )
    with pytest.raises(PluginError, match="is not a valid plugin"):
        found["notplugin"]()
    with pytest.raises(PluginError, match="failed to make the plugin: TypeError"):
        found["needsargs"]()
    with pytest.raises(PluginError, match=r"cannot load .*AttributeError"):
        found["missing"]()
    with pytest.raises(PluginError, match=r"cannot load .*RuntimeError: cannot import me") as info:
        found["broken"]()
    assert info.value.plugin == "broken"
    assert isinstance(info.value.__cause__, RuntimeError)


def test_a_broken_entry_point_fails_activation(
    fake_site: Callable[..., None], manager: PluginManager
) -> None:
    fake_site(
        "fakebroken",
        "[actrio.plugins]\nexploding = fakebroken_mod:Plugin\n",
        fakebroken_mod="raise ImportError('no such dependency')\n",
    )
    with pytest.raises(PluginError, match="no such dependency") as info:
        manager.activate('[[plugins]]\nname = "exploding"\n')
    assert info.value.plugin == "exploding"
    assert manager.installed() == ()


def test_a_name_defined_by_two_distributions_is_an_error(fake_site: Callable[..., None]) -> None:
    group = "actrio.plugins.test-twice"
    fake_site("fakeone", f"[{group}]\nredact = fakeone_mod:RedactPlugin\n", fakeone_mod=FAKE_MODULE)
    fake_site("faketwo", f"[{group}]\nredact = faketwo_mod:RedactPlugin\n", faketwo_mod=FAKE_MODULE)
    found = discover_plugins(group)
    with pytest.raises(PluginError, match="defined twice") as info:
        found["redact"]()
    assert "(from fakeone)" in str(info.value)
    assert "(from faketwo)" in str(info.value)


def test_the_same_entry_point_in_two_distributions_is_fine(fake_site: Callable[..., None]) -> None:
    group = "actrio.plugins.test-same"
    fake_site(
        "fakesame", f"[{group}]\nredact = fakesame_mod:RedactPlugin\n", fakesame_mod=FAKE_MODULE
    )
    fake_site("fakesame2", f"[{group}]\nredact = fakesame_mod:RedactPlugin\n")
    assert discover_plugins(group)["redact"]().name == "redact"


def test_an_empty_group_finds_nothing() -> None:
    assert discover_plugins("actrio.plugins.test-nothing-here") == {}
    assert PLUGIN_GROUP == "actrio.plugins"

"""Steward's configuration: frozen attrs classes, loaded strictly from TOML over the defaults."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs

from ._checks import (
    DAY,
    RESERVED_LABELS,
    WEEK,
    http_url,
    labels,
    not_negative,
    pack_names,
    paths,
    positive,
    short,
    tmux_name,
    within,
)
from .errors import ConfigError
from .events import Severity
from .files import read_regular
from .paths import conf_dir

__all__ = [
    "RESERVED_LABELS",
    "AlertmanagerConfig",
    "CaptureConfig",
    "Config",
    "DeployConfig",
    "MetricsConfig",
    "NotifyConfig",
    "PMConfig",
    "PolicyConfig",
    "QAConfig",
    "RulesConfig",
    "StatesConfig",
    "StoreConfig",
    "SummaryConfig",
    "TmuxConfig",
    "WatchConfig",
    "default_config_path",
    "load_config",
    "user_config_path",
]

T = TypeVar("T")


def _severity(_inst: object, attr: attrs.Attribute[Any], value: str) -> None:
    try:
        Severity.parse(value)
    except ValueError as exc:
        raise ValueError(f"{attr.name}: {exc}") from None


def _one_of(*choices: str) -> Callable[[object, attrs.Attribute[Any], str], None]:
    def check(_inst: object, attr: attrs.Attribute[Any], value: str) -> None:
        if value not in choices:
            raise ValueError(f"{attr.name}: must be one of {'|'.join(choices)}, not {value!r}")

    return check


@attrs.frozen(kw_only=True)
class TmuxConfig:
    """Which tmux server to watch; empty values mean the user's default server."""

    socket_name: str = ""
    socket_path: str = ""


@attrs.frozen(kw_only=True)
class WatchConfig:
    """Which sessions get an assistant, and how often new ones are looked for."""

    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    discovery_interval: float = attrs.field(default=2.0, validator=positive(0.0, 3600.0))
    hung_after: float = attrs.field(default=30.0, validator=within(2.0, 3600.0))


@attrs.frozen(kw_only=True)
class CaptureConfig:
    """How often panes are captured and how far back."""

    interval: float = attrs.field(default=1.0, validator=within(0.05, 3600.0))
    history_lines: int = attrs.field(default=2000, validator=within(1, 1_000_000))
    control_mode: bool = True


@attrs.frozen(kw_only=True)
class StatesConfig:
    """Thresholds of pane states."""

    idle_after: float = attrs.field(default=30.0, validator=positive())
    stalled_after: float = attrs.field(default=120.0, validator=positive())
    debounce: int = attrs.field(default=2, validator=within(1, 1000))


@attrs.frozen(kw_only=True)
class SummaryConfig:
    """Executive summaries: how often, and an optional command that writes them."""

    interval: float = attrs.field(default=300.0, validator=not_negative())
    command: str = ""
    timeout: float = attrs.field(default=60.0, validator=positive(0.0, 3600.0))
    project: str = ""  # the name in the project digest's title; empty: the tmux socket's


@attrs.frozen(kw_only=True)
class PMConfig:
    """The PM's session and how reports reach it."""

    session: str = attrs.field(default="pm", validator=tmux_name)
    mode: str = attrs.field(default="log", validator=_one_of("log", "display", "send-keys"))
    target: str = ""
    display_min_severity: str = attrs.field(default="error", validator=_severity)


@attrs.frozen(kw_only=True)
class NotifyConfig:
    """Desktop notifications."""

    desktop: bool = True
    app_name: str = "Steward"
    min_severity: str = attrs.field(default="error", validator=_severity)
    rate_per_minute: int = attrs.field(default=6, validator=within(1, 10_000))


@attrs.frozen(kw_only=True)
class PolicyConfig:
    """Dedup, grouping and the escalation ladder, in seconds."""

    cooldown: float = attrs.field(default=300.0, validator=not_negative())
    group_wait: float = attrs.field(default=0.0, validator=not_negative(DAY))
    group_interval: float = attrs.field(default=60.0, validator=not_negative(DAY))
    renotify_after: float = attrs.field(default=600.0, validator=positive(0.0, 4 * WEEK))
    escalate_after: float = attrs.field(default=1800.0, validator=positive(0.0, 4 * WEEK))


@attrs.frozen(kw_only=True)
class RulesConfig:
    """Rule packs by name (from conf/rules/) and extra pack files by path."""

    packs: tuple[str, ...] = attrs.field(
        default=("generic", "qa", "deploy", "agents", "build", "servers"), validator=pack_names
    )
    files: tuple[str, ...] = attrs.field(default=(), validator=paths)

    def pack_paths(self) -> list[Path]:
        """Every pack file to load, shipped ones first."""
        shipped = [conf_dir() / "rules" / f"{name}.toml" for name in self.packs]
        return shipped + [Path(f).expanduser() for f in self.files]


@attrs.frozen(kw_only=True)
class QAConfig:
    """The QA assistant; it reads every watched pane (`targets` is kept for older files)."""

    targets: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class DeployConfig:
    """The deployment assistant; it reads every watched pane (`targets` as for QA)."""

    targets: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class AlertmanagerConfig:
    """Escalations posted to Prometheus Alertmanager; an empty url turns it off.

    `labels` are static labels added to every alert; `host` among them replaces the host name.
    """

    url: str = attrs.field(default="", validator=http_url)
    min_severity: str = attrs.field(default="warning", validator=_severity)
    resend_interval: float = attrs.field(default=60.0, validator=within(1.0, 86400.0))
    timeout: float = attrs.field(default=5.0, validator=within(0.1, 60.0))
    labels: tuple[tuple[str, str], ...] = attrs.field(default=(), validator=labels)


@attrs.frozen(kw_only=True)
class MetricsConfig:
    """A Prometheus text-format file for node_exporter's textfile collector; empty: none."""

    textfile: str = ""


@attrs.frozen(kw_only=True)
class StoreConfig:
    """Retention: events older than `keep_days` and the oldest beyond `max_mb` are pruned."""

    keep_days: float = attrs.field(default=14.0, validator=within(0.001, 3650.0))
    max_mb: float = attrs.field(default=512.0, validator=within(1.0, 1048576.0))
    prune_every: float = attrs.field(default=600.0, validator=within(1.0, 86400.0))


@attrs.frozen(kw_only=True)
class Config:
    """The whole configuration, and the file it came from."""

    tmux: TmuxConfig = TmuxConfig()
    watch: WatchConfig = WatchConfig()
    capture: CaptureConfig = CaptureConfig()
    states: StatesConfig = StatesConfig()
    summary: SummaryConfig = SummaryConfig()
    pm: PMConfig = PMConfig()
    notify: NotifyConfig = NotifyConfig()
    policy: PolicyConfig = PolicyConfig()
    rules: RulesConfig = RulesConfig()
    qa: QAConfig = QAConfig()
    deploy: DeployConfig = DeployConfig()
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()
    metrics: MetricsConfig = MetricsConfig()
    store: StoreConfig = StoreConfig()
    source: str = ""


class _Invalid(Exception):
    """A value that does not fit its field: the dotted key and what is wrong."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(key, reason)
        self.key = key
        self.reason = reason


_SCALARS: dict[type, str] = {str: "a string", int: "an integer", float: "a number",
                             bool: "true or false"}
_FIELD_REASON = re.compile(r"^(\w+(?:\[\d+\])?): (.*)$", re.S)


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _scalar(value: Any, kind: type, key: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # an int is a fine float
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise _Invalid(key, f"expected {_SCALARS[kind]}, got {type(value).__name__} {short(value)}")
    return value


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        got = f"{type(value).__name__} {short(value)}"
        raise _Invalid(key, f"expected a list of strings, got {got}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _Invalid(key, f"expected a list of strings, item {i} is {short(item)}")
    return tuple(value)


def _string_table(value: Any, key: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise _Invalid(key, f"expected a table of strings, got {type(value).__name__} {value!r}")
    for name, item in value.items():
        if not isinstance(item, str):
            raise _Invalid(key, f"expected a table of strings, {name} is {item!r}")
    return tuple(sorted(value.items()))


def _value(kind: Any, value: Any, key: str) -> Any:
    if attrs.has(kind):
        if not isinstance(value, Mapping):
            raise _Invalid(key, f"expected a table, got {type(value).__name__} {short(value)}")
        return _structure(kind, value, key)
    if kind in _SCALARS:
        return _scalar(value, kind, key)
    if kind == tuple[str, ...]:
        return _strings(value, key)
    if kind == tuple[tuple[str, str], ...]:
        return _string_table(value, key)
    raise TypeError(f"config field {key} has a type the loader does not know: {kind!r}")


def _structure(cls: type[T], data: Mapping[str, Any], key: str = "") -> T:
    """An instance of the attrs class `cls` from TOML data; _Invalid names the first fault.

    Fields are read in their order, then unknown keys are refused; the classes' validators
    raise ValueError("field: reason"), reported at that field's key.
    """
    fields = attrs.fields_dict(attrs.resolve_types(cls))  # type: ignore[type-var,arg-type]
    kwargs = {name: _value(f.type, data[name], _join(key, name))
              for name, f in fields.items() if name in data}
    for name in data:
        if name not in fields or not fields[name].init:
            raise _Invalid(_join(key, name), "unknown key")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        match = _FIELD_REASON.match(str(exc))
        if match is None:
            raise _Invalid(key, str(exc) or f"invalid value ({type(exc).__name__})") from None
        raise _Invalid(_join(key, match[1]), match[2]) from None


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    file = str(path)
    try:
        raw = read_regular(path)
    except FileNotFoundError:
        raise ConfigError("file not found", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=file) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"not UTF-8 text (byte {exc.start}, line {line})", file=file) from None
    except RecursionError:
        raise ConfigError("malformed TOML: arrays or tables nested too deep", file=file) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"malformed TOML: {exc}", file=file) from None


def default_config_path() -> Path:
    """The built-in defaults shipped in `conf/steward.toml`."""
    return conf_dir() / "steward.toml"


def user_config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The user's file: `--config`, else `$STEWARD_CONFIG`, else the XDG default if it exists."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("STEWARD_CONFIG")
    if env:
        return Path(env).expanduser()
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    candidate = xdg / "steward" / "steward.toml"
    return candidate if candidate.exists() else None


def load_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    """Defaults, overridden by the user's file; any fault is a ConfigError naming file and key."""
    defaults_path = default_config_path()
    data = _read_toml(defaults_path)
    user_path = user_config_path(explicit)
    source = str(defaults_path)
    if user_path is not None:
        user = _read_toml(user_path)
        _check(user, str(user_path))
        data = _merge(data, user)
        source = str(user_path)
    config = attrs.evolve(_check(data, source), source=source)
    if config.pm.mode == "send-keys" and not config.pm.target:
        raise ConfigError("required when pm.mode is send-keys", file=source, key="pm.target")
    _check_rule_files(config)
    return config


def _check_rule_files(config: Config) -> None:
    """Every `rules.files` entry is a readable regular file; the error names the entry."""
    for i, name in enumerate(config.rules.files):
        path = Path(name).expanduser()
        try:
            read_regular(path)
        except FileNotFoundError:
            reason = f"no such file {path}"
        except OSError as exc:
            reason = f"{path}: {exc.strerror or exc}"
        else:
            continue
        raise ConfigError(reason, file=config.source, key=f"rules.files[{i}]")


def _check(data: Mapping[str, Any], file: str) -> Config:
    """The Config that `data` describes; a fault is a ConfigError naming `file` and the key."""
    sections = {f.name for f in attrs.fields(Config)} - {"source"}
    for key, value in data.items():
        if key in sections and not isinstance(value, Mapping):
            raise ConfigError(f"expected a table [{key}], got {value!r}", file=file, key=key)
        if key not in sections:
            raise ConfigError("unknown key", file=file, key=key)
    try:
        return _structure(Config, data)
    except _Invalid as exc:
        raise ConfigError(exc.reason, file=file, key=exc.key or None) from None

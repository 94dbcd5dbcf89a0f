"""A watched pane on a real tmux server: its state changes, reported once each, and its events."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libtmux
import pytest
from libtmux.test.retry import retry_until

from assistants.pane.foreground import foreground_command
from assistants.pane.watch import PaneWatch, coalesce
from escalation.core.config import StatesConfig
from escalation.core.events import Event, Kind
from escalation.core.paths import conf_dir
from escalation.core.tmux import PaneInfo, Tmux
from escalation.rules import load_rules

RULES = load_rules([conf_dir() / "rules" / "agents.toml", conf_dir() / "rules" / "generic.toml"])
STATES = StatesConfig(idle_after=30.0, stalled_after=60.0, debounce=2)


class Driver:
    """Steps one PaneWatch with a clock the test moves, reading a real pane."""

    def __init__(self, server: Any, command: str = "bash --norc --noprofile") -> None:
        self.tmux = Tmux(socket_name=str(server.socket_name))
        self.session = f"w{int(time.monotonic() * 1000) % 100000}"
        self.tmux.cmd("new-session", "-d", "-s", self.session, "-x", "100", "-y", "20",
                      "-e", "PS1=$ ", command)
        self.tmux.cmd("set-option", "-t", self.session, "remain-on-exit", "on")
        self.now = time.time()
        self.events: list[Event] = []
        self.watch = PaneWatch(tmux=self.tmux, info=self.info(), ruleset=RULES, states=STATES,
                               history_lines=2000, assistant=f"session:{self.session}")

    def info(self) -> PaneInfo:
        return self.tmux.panes(self.session)[0]

    def step(self, advance: float = 1.0) -> list[Event]:
        self.now += advance
        got = self.watch.step(self.info(), self.now)
        self.events += got
        return got

    def type(self, text: str) -> None:
        self.tmux.send_keys(f"{self.session}:0.0", text, enter=True)

    def until(self, check: Callable[[], bool], seconds: float = 8.0) -> None:
        def poll() -> bool:
            self.step(0.5)
            return check()

        retry_until(poll, seconds)

    def states(self) -> list[str]:
        return [e.rule for e in self.events if e.kind is Kind.STATE]


@pytest.fixture
def driver(server: Any) -> Driver:
    return Driver(server)


def test_a_prompt_is_waiting_input_once_and_resolves(driver: Driver) -> None:
    driver.until(lambda: bool(driver.watch.screen))
    driver.type('read -p "Overwrite config.yaml? [Y/n] " answer')
    driver.until(lambda: "state.waiting_input" in driver.states())
    for _ in range(5):
        driver.step()
    assert driver.states().count("state.waiting_input") == 1
    event = next(e for e in driver.events if e.rule == "state.waiting_input")
    assert event.severity.label == "warning"
    assert "[Y/n]" in event.text
    driver.type("y")
    driver.until(lambda: driver.states()[-1] != "state.waiting_input")


def test_a_silent_foreground_command_stalls_once(driver: Driver) -> None:
    driver.until(lambda: bool(driver.watch.screen))
    driver.type("sleep 300")
    driver.until(lambda: driver.info().current_command == "sleep")
    for _ in range(4):
        driver.step(1.0)
    driver.step(STATES.stalled_after)
    driver.step(1.0)
    driver.step(1.0)
    assert driver.states().count("state.stalled") == 1
    for _ in range(4):
        driver.step(5.0)
    assert driver.states().count("state.stalled") == 1


def test_a_quiet_shell_goes_idle(driver: Driver) -> None:
    driver.until(lambda: bool(driver.watch.screen))
    driver.type("echo hello")
    driver.step()
    driver.step(STATES.idle_after + 1)
    driver.step(1.0)
    driver.step(1.0)
    assert driver.watch.tracker.state is not None
    assert driver.watch.tracker.state.value == "idle"


@pytest.mark.parametrize(("code", "state"), [("0", "exited"), ("3", "crashed")])
def test_a_dead_pane_is_exited_or_crashed(server: Any, code: str, state: str) -> None:
    d = Driver(server, command=f"sh -c 'echo working; sleep 0.5; exit {code}'")
    d.until(lambda: d.info().dead, 10)
    # tmux records the exit status a moment after it flags the pane dead (and now and then
    # loses it): the watch waits for it, and calls a pane with no status exited, not crashed.
    d.until(lambda: bool({"state.exited", "state.crashed"} & set(d.states())), 10)
    info = d.info()
    expected = state if info.dead_status is not None else "exited"
    assert d.states()[-1] == f"state.{expected}", [(e.rule, e.text) for e in d.events]
    assert d.states().count(f"state.{expected}") == 1


def test_a_traceback_left_on_screen_is_one_event(driver: Driver) -> None:
    driver.until(lambda: bool(driver.watch.screen))
    driver.type("python3 -c \"raise KeyError('missing')\"")
    driver.until(lambda: any(e.rule == "generic.python_traceback" for e in driver.events))
    for _ in range(6):
        driver.step()
    hits = [e for e in driver.events if e.rule == "generic.python_traceback"]
    assert len(hits) == 1
    assert "KeyError" in hits[0].text
    assert hits[0].target == f"{driver.session}:0.0"
    assert "Traceback" in hits[0].detail


def test_what_is_stored_of_a_pane_holds_no_secret_and_resumes_without_repeats(
    driver: Driver,
) -> None:
    secret = "ghp_" + "A1b2C3d4" * 4 + "Zz99"
    driver.until(lambda: bool(driver.watch.screen))
    driver.type(f"echo 'Error: push failed token={secret}'")
    driver.until(lambda: any(e.rule == "generic.error_line" for e in driver.events))
    stored = driver.watch.record(driver.now).memo.dumps()
    assert secret not in stored
    assert "REDACTED" in stored
    assert all(secret not in e.text and secret not in e.detail for e in driver.events)
    # A respawned assistant resumes from the stored (redacted) capture: nothing is new.
    resumed = PaneWatch(tmux=driver.tmux, info=driver.info(), ruleset=RULES, states=STATES,
                        history_lines=2000, assistant=driver.watch.assistant,
                        record=driver.watch.record(driver.now))
    again = resumed.step(driver.info(), driver.now + 1)
    assert [e.rule for e in again if e.kind is Kind.PATTERN] == []
    driver.type("echo 'Error: second failure'")
    retry_until(lambda: any(e.rule == "generic.error_line" for e in
                            resumed.step(driver.info(), driver.now + 2)), 8)


def test_a_script_run_by_the_shell_is_a_running_command_not_a_prompt(
    server: libtmux.Server, tmp_path: Path
) -> None:
    script = tmp_path / "build.sh"
    script.write_text("echo building; sleep 30\n")
    session = server.new_session("build", window_command="bash --norc --noprofile")
    pane = session.active_window.active_pane
    assert pane is not None
    pane.send_keys(f"bash {script}", enter=True)
    retry_until(lambda: "building" in "\n".join(pane.capture_pane()), 5)
    pane_pid = int(pane.pane_pid or 0)
    command = str(pane.pane_current_command)
    assert command == "bash"  # what tmux says
    assert foreground_command(command, pane_pid) == f"bash {script}"
    pane.send_keys("C-c", enter=False)
    retry_until(lambda: foreground_command("bash", pane_pid) == "bash", 5)


def test_one_event_per_line_rule_per_read_with_the_rest_as_detail() -> None:
    # npm 6 failing a script (tests/corpus/build): every line is an error line of one failure.
    lines = [
        "npm ERR! code ELIFECYCLE",
        "npm ERR! errno 1",
        "npm ERR! app@1.0.0 build: `webpack`",
        "npm ERR! Exit status 1",
    ]
    hits = RULES.matcher().feed(lines)
    grouped = coalesce(hits)
    assert len(hits) == 4 and len(grouped) == 1
    first, more = grouped[0]
    assert first.line == "npm ERR! code ELIFECYCLE"
    assert [h.line for h in more] == lines[1:]

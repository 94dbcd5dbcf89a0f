"""The control-mode transport answers exactly as `tmux` processes do, and falls back on failure."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from libtmux.test.retry import retry_until

import escalation.core.tmux as tmux_mod
from escalation.core.errors import TmuxError
from escalation.core.tmux import PANE_FORMAT, Tmux
from escalation.core.tmux_control import ControlClient, ControlLost, quote

SPECIAL = [
    "%end 1 2 3",
    "%begin 1 2 3",
    "%error 1 2 3",
    "%exit",
    'it\'s "quoted" \\ back',
    "#{session_name} #[fg=red] ##",
    "a; b ; c;",
    ";",
    "unicode: é ü 😀 日本語",
    "trailing spaces   ",
    "$HOME ~ ~/x",
]


def _gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


class Pair:
    """A plain Tmux and one with the control transport, on the same private server."""

    def __init__(self, server: Any, tmp_path: Path) -> None:
        self.server = server
        self.socket = str(server.socket_name)
        self.plain = Tmux(socket_name=self.socket)
        self.plain.new_session("pm", ["sleep", "100000"])
        text = tmp_path / "pane.txt"
        body = [f"history line {i}" for i in range(300)]
        body += ["w" * 130 + " wrapped " + "x" * 100]  # wraps over 80 columns
        body += SPECIAL
        text.write_text("\n".join(body) + "\n", encoding="utf-8")
        self.plain.new_session(
            "work", ["sh", "-c", f"cat {text}; printf 'no newline %%end'; exec sleep 100000"],
            width=80, height=24,
        )  # fmt: skip
        self.pane = self.plain.panes("work")[0].pane_id
        retry_until(lambda: "no newline" in "".join(self.plain.capture(self.pane)), 5)
        self.control = Tmux(socket_name=self.socket, control_session="pm")

    def attached(self) -> int:
        """Run a reading command so that the control client attaches; its pid."""
        self.control.cmd("list-sessions")
        pid = self.control.control_pid()
        assert pid is not None
        return pid


@pytest.fixture
def pair(server: Any, tmp_path: Path) -> Iterator[Pair]:
    p = Pair(server, tmp_path)
    try:
        yield p
    finally:
        p.control.close()


def test_quote_keeps_every_character() -> None:
    assert quote("") == "''"
    assert quote("a'b") == "'a'\"'\"'b'"
    assert quote("x\ny\x1f") == "'x'\"\\012\"'y'\"\\037\""
    with pytest.raises(TmuxError):
        quote("a\0b")


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(value=st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0\n\r")))
def test_any_argument_survives_both_transports(server: Any, value: str) -> None:
    if value == ";":
        value = "; "  # a bare ";" is the command separator
    plain = Tmux(socket_name=str(server.socket_name))
    if not plain.has_session("q"):
        plain.new_session("q", ["sleep", "100000"])
    client = ControlClient(plain.server_args(), "q")
    try:
        client.cmd("set-option", "-t", "=q:", "@a", value)
        plain.cmd("set-option", "-t", "=q:", "@b", value)
        expected = [value] if value else []
        assert client.cmd("show-options", "-v", "-t", "=q:", "@a") == expected
        assert plain.cmd("show-options", "-v", "-t", "=q:", "@b") == expected
    finally:
        client.close()


def test_list_panes_is_the_same(pair: Pair) -> None:
    pair.attached()
    for args in (["list-panes", "-a", "-F", PANE_FORMAT],
                 ["list-panes", "-s", "-t", "=work:", "-F", PANE_FORMAT]):  # fmt: skip
        assert pair.control.cmd(*args) == pair.plain.cmd(*args)
    assert pair.control.panes("work") == pair.plain.panes("work")
    assert pair.control.control_pid() is not None


def test_read_pane_is_the_same(pair: Pair) -> None:
    pid = pair.attached()
    via_control = pair.control.read_pane(pair.pane, history_lines=400)
    assert pair.control.control_pid() == pid
    via_process = pair.plain.read_pane(pair.pane, history_lines=400)
    assert via_control == via_process
    assert via_control.history_size > 250
    lines = via_control.lines
    assert "history line 0" in lines and "history line 299" in lines
    assert "w" * 130 + " wrapped " + "x" * 100 in lines  # joined (-J)
    for text in SPECIAL:
        assert text in lines
    assert lines[-1].startswith("no newline %end")
    for start in (-400, -10, 0):
        assert pair.control.capture(pair.pane, start=start, join=False) == pair.plain.capture(
            pair.pane, start=start, join=False
        )


def test_errors_carry_tmux_messages(pair: Pair) -> None:
    pid = pair.attached()
    for args in (
        ["capture-pane", "-p", "-t", "%999"],
        ["list-panes", "-s", "-t", "=nosuch:", "-F", "x"],
        ["display-message", "-p", "-t", pair.pane, "a", "b"],
    ):
        with pytest.raises(TmuxError) as by_process:
            pair.plain.cmd(*args)
        with pytest.raises(TmuxError) as by_control:
            pair.control.cmd(*args)
        assert str(by_control.value) == str(by_process.value)
    show = ["display-message", "-p", "-t", pair.pane]
    seq = [*show, "one", ";", "capture-pane", "-p", "-t", "%999", ";", *show, "two"]
    assert pair.control.cmd(*seq, check=False) == pair.plain.cmd(*seq, check=False) == ["one"]
    assert pair.control.control_pid() == pid  # errors do not drop the client


def test_bad_target_message(pair: Pair) -> None:
    pair.attached()
    with pytest.raises(TmuxError, match="can't find pane: %999"):
        pair.control.cmd("capture-pane", "-p", "-t", "%999")


def test_session_killed_falls_back_then_attaches_again(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = pair.attached()
    expected = pair.plain.panes("work")
    pair.plain.kill_session("pm")
    retry_until(lambda: _gone(pid), 5)
    assert pair.control.panes("work") == expected  # through a process, no error
    assert pair.control.control_pid() is None
    pair.plain.new_session("pm", ["sleep", "100000"])
    monkeypatch.setattr(tmux_mod, "REATTACH_AFTER", 0.2)
    retry_until(lambda: pair.control.panes("work") == expected
                and pair.control.control_pid() is not None, 5)  # fmt: skip


def test_no_answer_in_time_raises_then_falls_back(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = pair.attached()
    control = pair.control._control
    assert control is not None
    control.timeout = 0.3
    server_pid = int(pair.plain.cmd("display-message", "-p", "#{pid}")[0])
    os.kill(server_pid, signal.SIGSTOP)
    try:
        with pytest.raises(TmuxError, match="did not answer"):
            pair.control.panes("work")
    finally:
        os.kill(server_pid, signal.SIGCONT)
    assert pair.control.control_pid() is None
    retry_until(lambda: _gone(pid), 5)
    assert pair.control.panes("work") == pair.plain.panes("work")
    monkeypatch.setattr(tmux_mod, "REATTACH_AFTER", 0.0)
    pair.control.panes("work")
    assert pair.control.control_pid() not in (None, pid)


def test_a_waiting_command_times_out_and_closes_the_client(server: Any) -> None:
    plain = Tmux(socket_name=str(server.socket_name))
    plain.new_session("pm", ["sleep", "100000"])
    client = ControlClient(plain.server_args(), "pm", timeout=0.3)
    with pytest.raises(ControlLost):
        client.cmd("run-shell", "sleep 3")
    retry_until(lambda: _gone(client.pid), 5)
    with pytest.raises(ControlLost):
        client.cmd("list-sessions")


def test_server_killed_raises_then_recovers(pair: Pair) -> None:
    pid = pair.attached()
    pair.server.kill()
    with pytest.raises(TmuxError):
        pair.control.panes("work")
    retry_until(lambda: _gone(pid), 5)
    assert pair.control.control_pid() is None
    assert pair.control.sessions() == []


def test_no_attach_without_the_session(server: Any) -> None:
    plain = Tmux(socket_name=str(server.socket_name))
    plain.new_session("work", ["sleep", "100000"])
    control = Tmux(socket_name=plain.socket_name, control_session="pm")
    assert control.cmd("list-sessions", "-F", "#{session_name}") == ["work"]
    assert control.control_pid() is None
    with pytest.raises(ControlLost, match="can't find session"):
        ControlClient(plain.server_args(), "pm")


def test_writes_and_untargeted_commands_run_as_processes(pair: Pair) -> None:
    pid = pair.attached()
    pair.control.send_keys(pair.pane, "ignored;")
    pair.control.cmd("set-option", "-t", "=pm:", "@k", "v;")
    assert pair.control.cmd("show-options", "-v", "-t", "=pm:", "@k") == ["v;"]
    assert pair.control.control_pid() == pid
    assert not tmux_mod._via_control(["display-message", "-p", "#{session_name}"])
    assert not tmux_mod._via_control(["display-message", "-c", "/dev/pts/1", "hi"])
    assert not tmux_mod._via_control(["list-panes", "-a", ";", "new-session", "-d"])
    assert tmux_mod._via_control(["list-panes", "-a", ";", "capture-pane", "-p", "-t", "%1"])


def test_close_and_collection_leave_no_client(pair: Pair) -> None:
    pid = pair.attached()
    pair.control.close()
    assert _gone(pid)
    assert pair.control.control_pid() is None
    pid = pair.attached()  # attaches again on demand
    other = Tmux(socket_name=pair.socket, control_session="pm")
    other.cmd("list-sessions")
    other_pid = other.control_pid()
    assert other_pid is not None
    del other
    gc.collect()
    retry_until(lambda: _gone(other_pid), 5)
    assert not _gone(pid)


def test_exit_leaves_no_client(pair: Pair) -> None:
    script = (
        "from escalation.core.tmux import Tmux\n"
        f"t = Tmux(socket_name={pair.socket!r}, control_session='pm')\n"
        "t.cmd('list-sessions')\n"
        "assert t.control_pid() is not None\n"
        "print(t.control_pid())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=20, check=True, cwd=Path(__file__).parent.parent)  # fmt: skip
    pid = int(out.stdout.strip())
    retry_until(lambda: _gone(pid), 5)
    rows = pair.plain.cmd("list-clients", "-F", "#{client_control_mode}")
    assert "1" not in rows


def test_control_client_leaves_sizes_and_is_no_display_client(pair: Pair) -> None:
    size = "#{session_name} #{window_width}x#{window_height}"
    before = pair.plain.cmd("list-windows", "-a", "-F", size)
    pair.attached()
    pair.control.read_pane(pair.pane, history_lines=10)
    rows = pair.plain.cmd(
        "list-clients", "-F", "#{client_tty}|#{client_control_mode}|#{client_flags}"
    )
    assert len(rows) == 1
    tty, control, flags = rows[0].split("|")
    assert tty == "" and control == "1"
    assert {"control-mode", "ignore-size", "no-output", "read-only"} <= set(flags.split(","))
    assert pair.plain.cmd("list-windows", "-a", "-F", size) == before
    assert pair.plain.clients("pm") == [] and pair.control.clients("pm") == []


def test_panes_parse_without_a_utf8_locale(server: Any) -> None:
    server.cmd("new-session", "-d", "-s", "loc", "cat")
    code = (
        "from escalation.core.tmux import Tmux; import sys; "
        f"print(Tmux(socket_name={str(server.socket_name)!r}).panes('loc')[0].session)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG"))}
    env["LC_ALL"] = "C"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=30, cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "loc"


def test_blocks_answer_each_command_apart(pair: Pair) -> None:
    pair.attached()
    show = ["display-message", "-p", "-t", pair.pane]
    blocks = pair.control.blocks(
        *show, "one", ";", "list-panes", "-t", "=work", "-F", "#{pane_id}", ";", *show, "",
    )
    assert blocks == [["one"], [pair.pane], [""]]
    with pytest.raises(TmuxError, match=r"can't find .*nosuch"):
        pair.control.blocks(*show, "x", ";", "list-panes", "-t", "=nosuch")
    assert pair.control.blocks(*show, "still answers") == [["still answers"]]
    assert pair.plain.blocks(*show, "x") is None  # no control client: the caller uses a process

"""redact(): secrets leave the text, the words around them stay, and nothing else is touched."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.core.redact import MAX_INPUT, redact
from escalation.core.sanitize import sanitize

GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0" * 2
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi4eE3i\n"
    "Proc-Type: 4,ENCRYPTED\n"
    "qG8zY9c1wJ0kL2nP4rT6vX8zB1dF3hJ5lN7pR9tV==\n"
    "-----END RSA PRIVATE KEY-----"
)
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("key AKIAIOSFODNN7EXAMPLE used", "key [REDACTED:aws-access-key] used"),
        ("ASIAY34FZKBOKMUTVV7A", "[REDACTED:aws-access-key]"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key = [REDACTED:aws-secret-key]",
        ),
        (
            'AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
            'AWS_SECRET_ACCESS_KEY="[REDACTED:aws-secret-key]"',
        ),
        (f"push with {GITHUB} now", "push with [REDACTED:github-token] now"),
        ("gho_" + "x" * 36, "[REDACTED:github-token]"),
        ("ghs_" + "Y" * 36, "[REDACTED:github-token]"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "[REDACTED:github-token]"),
        ("glpat-Abcdefghij1234567890", "[REDACTED:gitlab-token]"),
        ("xoxb-123456789012-1234567890123-AbCdEf", "[REDACTED:slack-token]"),
        (
            "POST https://hooks.slack.com/services/T0000/B0000/q1w2e3r4t5y6 failed",
            "POST [REDACTED:slack-webhook] failed",
        ),
        (f"token {JWT}.", "token [REDACTED:jwt]."),
        (f"{PEM}\nafter", "[REDACTED:private-key]\nafter"),
        ("DB_PASSWORD=hunter2 ./run", "DB_PASSWORD=[REDACTED:password] ./run"),
        ("passwd=s3cr3t&user=bob", "passwd=[REDACTED:password]&user=bob"),
        ('password="two words" next', 'password="[REDACTED:password]" next'),
        ("GITHUB_TOKEN=abc123 make", "GITHUB_TOKEN=[REDACTED:token] make"),
        ("?access_token=abc&x=1", "?access_token=[REDACTED:token]&x=1"),
        ('{"token": "abc def", "n": 1}', '{"token": "[REDACTED:token]", "n": 1}'),
        ("client_secret=xyz", "client_secret=[REDACTED:secret]"),
        ("api_key=k-123", "api_key=[REDACTED:api-key]"),
        ("Password: hunter2", "Password: [REDACTED:password]"),
        (
            "curl -H 'Authorization: Bearer abcdef123456789'",
            "curl -H 'Authorization: Bearer [REDACTED:bearer]'",
        ),
        ("authorization: Basic dXNlcjpwYXNz", "authorization: Basic [REDACTED:bearer]"),
        (
            "postgres://app:pa55word@db:5432/app",
            "postgres://app:[REDACTED:url-password]@db:5432/app",
        ),
        (
            "git clone https://bob:tok3n@example.com/r.git",
            "git clone https://bob:[REDACTED:url-password]@example.com/r.git",
        ),
    ],
)
def test_secrets_are_replaced_by_their_kind(raw: str, want: str) -> None:
    assert redact(raw) == want
    assert redact(want) == want


def test_a_lone_begin_line_takes_its_key_lines_with_it() -> None:
    text = (
        "cat id_rsa\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAAC1lZDI1\n$ "
    )
    assert redact(text) == "cat id_rsa\n[REDACTED:private-key]\n$ "


def test_key_lines_that_end_in_an_end_line_go_too() -> None:
    text = "AAAAC3NzaC1lZDI1NTE5\nQyNTUxOQAAACD\n-----END OPENSSH PRIVATE KEY-----\n$ ls"
    assert redact(text) == "[REDACTED:private-key]\n$ ls"


def test_sanitised_text_is_redacted_too() -> None:
    assert redact(sanitize(PEM + "\nnext")) == "[REDACTED:private-key] ⏎ next"
    lone = sanitize("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nok")
    assert redact(lone) == "[REDACTED:private-key] ⏎ ok"


@pytest.mark.parametrize(
    "line",
    [
        "max_tokens=4096 temperature=0.2",
        "SyntaxError: Unexpected token: '}'",
        "tokens used: 1234",
        "commit 4e9d2b5c0ffee and AKIA too short",
        "https://github.com/org/repo/pull/12",
        "ssh://git@github.com/org/repo.git",
        "password=",
        "Enter password:",
        "eyJ not a jwt",
        "the secret of success",
    ],
)
def test_ordinary_lines_are_left_alone(line: str) -> None:
    assert redact(line) == line


def test_overlong_input_is_cut_without_leaving_a_secret_prefix() -> None:
    text = "x " * (MAX_INPUT // 2 - 3) + "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123"
    out = redact(text)
    assert "ghp_" not in out
    assert out.endswith("chars]")
    assert "[TRUNCATED:" in out


_NOISE = st.text(alphabet=st.sampled_from(list(" =:\"'\n/@.-_abcXYZ019")), max_size=20)


@settings(max_examples=200, deadline=None)
@given(_NOISE, _NOISE, st.sampled_from([GITHUB, JWT, "AKIAIOSFODNN7EXAMPLE", "glpat-" + "q" * 24]))
def test_a_token_anywhere_is_gone_and_redact_is_idempotent(
    before: str, after: str, secret: str
) -> None:
    text = f"{before} {secret} {after}"
    out = redact(text)
    assert secret not in out
    assert redact(out) == out

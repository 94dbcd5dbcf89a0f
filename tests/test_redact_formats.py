"""redact() on each known token format and on credentials printed next to a telling word.

Every value here is a documented example (AWS's AKIAIOSFODNN7EXAMPLE and its secret key) or an
obviously fake one built from repeated characters, so that no real credential is in the repo.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from escalation.core.events import Kind, Severity, new_event
from escalation.core.redact import credential_shaped, redact
from escalation.core.store import Store

AWS_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
FAKE36 = "Fake0Token1Value2Fake3Token4Value5Ab"  # 36 letters and digits
HEX32 = "0123456789abcdef" * 2
HEX64 = HEX32 * 2

FORMATS = [
    ("github-token", "ghp_" + FAKE36),
    ("github-token", "gho_" + FAKE36),
    ("github-token", "github_pat_11AAAAAAA0" + "abcdefghij_" * 7),
    ("gitlab-token", "glpat-" + "x1Y2z3" * 4),
    ("slack-token", "xoxb-1234567890-1234567890123-" + "AbCdEf" * 4),
    ("slack-token", "xoxp-1234567890-1234567890-" + "0" * 12),
    ("slack-token", "xapp-1-A0123456789-1234567890123-" + "ab12" * 16),
    ("stripe-key", "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"),
    ("stripe-key", "rk_test_" + "Fake" * 6),
    ("stripe-webhook-secret", "whsec_" + "Fake0000" * 4),
    ("google-api-key", "AIza" + "SyFAKEFAKEFAKEFAKEFAKEFAKEFAKE12345"),
    ("google-oauth-token", "ya29." + "a0Fake" * 8),
    ("aws-access-key", AWS_ID),
    ("aws-access-key", "ASIA" + "Y34FZKBOKMUTVV7A"),
    ("openai-key", "sk-proj-" + "Fake_Key-" * 6),
    ("openai-key", "sk-" + "A" * 20 + "T3BlbkFJ" + "B" * 20),
    ("openai-key", "sk-" + FAKE36),
    ("anthropic-key", "sk-ant-api03-" + "Fake_Key-0" * 9 + "AAA" + "AA"),
    ("anthropic-key", "sk-ant-admin01-" + "Fake-Key_0" * 9 + "AA"),
    ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmYWtlIn0.c2lnbmF0dXJlLWZha2U"),
    ("npm-token", "npm_" + FAKE36),
    ("pypi-token", "pypi-AgEIcHlwaS5vcmc" + "CJDFakeFake" * 6),
    ("sendgrid-key", "SG." + "F" * 22 + "." + "k" * 43),
    ("twilio-key", "SK" + HEX32),
    ("huggingface-token", "hf_" + "FakeTokenValue" * 2 + "abcdef"),
    ("digitalocean-token", "dop_v1_" + HEX64),
    ("shopify-token", "shpat_" + HEX32),
    ("docker-token", "dckr_pat_" + "Fake-Token_" * 3),
    ("vault-token", "hvs." + "CAESIFakeFakeFakeFakeFake" * 2),
    ("databricks-token", "dapi" + HEX32),
    ("postman-key", "PMAK-" + "0123456789abcdef01234567" + "-" + HEX32 + "ab"),
    ("linear-key", "lin_api_" + "Fake0" * 8),
    ("grafana-token", "glsa_" + "Fake0" * 6 + "ab" + "_" + "0123abcd"),
    ("age-key", "AGE-SECRET-KEY-1" + "QPZRY9X8GF" * 5 + "2TVDW0S3"),
]


@pytest.mark.parametrize(("kind", "token"), FORMATS, ids=[f"{k}-{i}" for i, (k, _t) in
                                                           enumerate(FORMATS)])
def test_each_known_format_is_redacted_by_its_kind(kind: str, token: str) -> None:
    line = f"using {token} now"
    out = redact(line)
    assert out == f"using [REDACTED:{kind}] now"
    assert redact(out) == out


def test_an_aws_key_pair_printed_after_key_and_secret_is_gone() -> None:
    line = f"created access key {AWS_ID} secret {AWS_SECRET} for ci"
    out = redact(line)
    assert AWS_ID not in out and AWS_SECRET not in out
    assert out == "created access key [REDACTED:aws-access-key] secret [REDACTED:secret] for ci"
    assert redact(out) == out


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (f"Secret: {AWS_SECRET}.", "Secret: [REDACTED:secret]."),
        ("token  Xy7pQ2mZ9vL4nR8sT1wK", "token  [REDACTED:token]"),
        ("password 'Xy7pQ2mZ9vL4nR8sT1wK'", "password '[REDACTED:password]'"),
        ("your credential is ready: Xy7pQ2mZ9vL4nR8sT1wK", "your credential is ready: "
         "Xy7pQ2mZ9vL4nR8sT1wK"),
        ("credentials: Xy7pQ2mZ9vL4nR8sT1wK", "credentials: [REDACTED:secret]"),
        ("key=" + HEX64, "key=[REDACTED:secret]"),
        ("AccountKey=Xy7pQ2mZ9vL4nR8sT1wK==;", "AccountKey=[REDACTED:secret];"),
    ],
)
def test_credentials_next_to_a_telling_word(raw: str, want: str) -> None:
    assert redact(raw) == want


@pytest.mark.parametrize(
    "line",
    [
        "press any key to continue",
        "duplicate key value violates unique constraint users_email_key_2024",
        "secret store at /home/user/.config/secrets/vault2024Backup",
        "the secret of success is consistency",
        "token expired at 2026-12-01T09:00:00Z",
        "keyboardLayoutVersion2Beta",
        "key-value-store-Version2X",
        "skipped risk-assessment-framework-documents",
        "sk-learn is not a key",
        "password for user bob changed",
    ],
)
def test_ordinary_lines_near_telling_words_stay(line: str) -> None:
    assert redact(line) == line


def test_credential_shape() -> None:
    assert credential_shaped(AWS_SECRET)
    assert credential_shaped(HEX64)
    assert not credential_shaped("aaaaaaaaaaaaaaaaaaaaaaaaaa1A")  # low entropy
    assert not credential_shaped("configuration_file_v2")  # no upper case
    assert not credential_shaped("Short1a")


def test_the_store_never_sees_the_aws_pair(tmp_path: Path) -> None:
    line = f"$ aws iam create-access-key ... key {AWS_ID} secret {AWS_SECRET}"
    event = new_event(ts=1.0, session="api", target="api:0.0", assistant="session:api",
                      rule="generic.anything", severity=Severity.ERROR, kind=Kind.PATTERN,
                      text=line, detail=line + "\nnext line", line=line)
    db = tmp_path / "steward.db"
    with Store(db) as store:
        store.add_events([event])
        (stored,) = store.events()
    assert AWS_SECRET not in stored.text + stored.detail
    assert "[REDACTED:secret]" in stored.text
    for f in tmp_path.iterdir():
        assert AWS_SECRET.encode() not in f.read_bytes()
        assert AWS_ID.encode() not in f.read_bytes()

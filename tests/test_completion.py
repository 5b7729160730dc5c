"""Shell completion (issue 16.6): `--install-completion` exists and ids complete from the ledger."""

from __future__ import annotations

from typer.testing import CliRunner

from billing_cli.cli import app


def complete(db, words: str) -> list[str]:
    env = {"_BILLING_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
           "BILLING_DB": str(db)}  # fmt: skip
    result = CliRunner().invoke(app, [], env=env, prog_name="billing")
    assert result.exit_code == 0, result.output
    return result.stdout.split()


def test_ids_complete_from_the_ledger(alpaca) -> None:
    alpaca.json("customer", "create", "--id", "cus_alpine")
    assert sorted(complete(alpaca.db, "billing customer show cus_alp")) == [
        "cus_alpaca",
        "cus_alpine",
    ]
    assert complete(alpaca.db, "billing price show price_t") == ["price_tokens"]
    assert complete(alpaca.db, "billing meter show mtr") == ["mtr_tokens"]


def test_no_ledger_completes_nothing_and_says_nothing(tmp_path) -> None:
    assert complete(tmp_path / "none.db", "billing customer show cus_") == []
    assert not (tmp_path / "none.db").exists()


def test_install_completion_is_offered() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert "--install-completion" in result.stdout

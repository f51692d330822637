"""`impetus aggregator user add|list|remove` and the operator options of `serve`, as typed."""

from __future__ import annotations

from click.testing import CliRunner

from impetus.aggregator.alerts_store import AlertStore
from impetus.cli import main


def test_user_add_prints_a_key_that_names_the_user_and_role(tmp_path):
    db = tmp_path / "aggregator.db"
    result = CliRunner().invoke(
        main, ["aggregator", "user", "add", "alice", "--role", "operator", "--db", str(db)]
    )
    assert result.exit_code == 0, result.output
    key = result.output.strip()
    alerts = AlertStore(db)
    user = alerts.user_for_key(key)
    alerts.close()
    assert (user.name, user.role) == ("alice", "operator")
    assert key not in db.read_bytes().decode("latin-1"), "keys are stored hashed"
    listed = CliRunner().invoke(main, ["aggregator", "user", "list", "--db", str(db)])
    assert listed.output == "alice\toperator\n"
    assert CliRunner().invoke(main, ["aggregator", "user", "remove", "alice", "--db", str(db)]).exit_code == 0
    missing = CliRunner().invoke(main, ["aggregator", "user", "remove", "alice", "--db", str(db)])
    assert missing.exit_code == 1 and "no user 'alice'" in missing.output


def test_an_unknown_role_is_refused_with_the_roles_there_are(tmp_path):
    result = CliRunner().invoke(
        main, ["aggregator", "user", "add", "bob", "--role", "boss", "--db", str(tmp_path / "a.db")]
    )
    assert result.exit_code == 2
    assert "operator" in result.output and "privacy_officer" in result.output


def test_a_broken_rules_file_is_refused_naming_the_key(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text('[grouping]\nwindow_s = "long"\n[types.gunshot]\ntitle = "Gunshot"\n')
    result = CliRunner().invoke(
        main,
        [
            "aggregator",
            "serve",
            "--rules",
            str(rules),
            "--db",
            str(tmp_path / "a.db"),
            "--listen",
            "127.0.0.1:0",
        ],
    )
    assert result.exit_code == 2
    assert "grouping.window_s" in result.output
    assert "Traceback" not in result.output

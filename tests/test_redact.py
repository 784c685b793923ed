"""redact: URL passwords become ``***`` wherever they appear in a text; nothing else changes.

Each test checks a table at once (a dict of text -> redacted text), so a failure shows every
case that went wrong side by side.
"""

from __future__ import annotations

from ressearch.redact import redact

SECRET = "hunter2-very-secret"


def _redacted(cases: dict[str, str]) -> dict[str, str]:
    return {text: redact(text) for text in cases}


def test_a_password_in_the_user_part_becomes_stars():
    cases = {
        "postgresql://bob:hunter2@db:5432/optuna": "postgresql://bob:***@db:5432/optuna",
        f"postgresql+psycopg://bob:{SECRET}@db/optuna": "postgresql+psycopg://bob:***@db/optuna",
        "postgres://bob:p%40ss:w/rd@db/optuna": "postgres://bob:***@db/optuna",
        "postgresql://bob:@db/optuna": "postgresql://bob:***@db/optuna",
        f"storage: cannot open 'postgresql+psycopg://bob:{SECRET}@127.0.0.1:1/x': refused": (
            "storage: cannot open 'postgresql+psycopg://bob:***@127.0.0.1:1/x': refused"
        ),
    }
    assert _redacted(cases) == cases


def test_a_password_query_item_becomes_stars():
    cases = {
        f"postgresql://db/optuna?sslmode=require&password={SECRET}&user=bob": (
            "postgresql://db/optuna?sslmode=require&password=***&user=bob"
        ),
        f"postgresql://bob@db/optuna?password={SECRET}": "postgresql://bob@db/optuna?password=***",
        f"postgresql://db/optuna?PASSWORD={SECRET}": "postgresql://db/optuna?PASSWORD=***",
        f"host=db user=bob password={SECRET} dbname=optuna": "host=db user=bob password=*** dbname=optuna",
    }
    assert _redacted(cases) == cases


def test_text_without_a_url_password_is_unchanged():
    unchanged = [
        "postgresql://postgres@127.0.0.1:5432/optuna",
        "postgresql+psycopg://127.0.0.1:5432/optuna",
        "sqlite:////tmp/studies.db",
        "sqlite:///ressearch.db",
        "https://example.com:8080/docs?page=2",
        "the trial failed: val_loss is NaN at epoch 3",
        "see https://optuna.readthedocs.io/en/stable/ for help",
    ]
    assert [redact(text) for text in unchanged] == unchanged


def test_every_url_in_one_text_is_redacted():
    text = (
        f"copy postgresql://alice:{SECRET}@one:5432/a to postgresql://bob:second-secret@two/b "
        "beside sqlite:///local.db and postgresql://carol@three/c?password=third-secret"
    )
    assert redact(text) == (
        "copy postgresql://alice:***@one:5432/a to postgresql://bob:***@two/b "
        "beside sqlite:///local.db and postgresql://carol@three/c?password=***"
    )


def test_redacting_twice_changes_nothing_more():
    once = redact(f"postgresql://bob:{SECRET}@db/optuna?password={SECRET}")
    assert redact(once) == once and SECRET not in once

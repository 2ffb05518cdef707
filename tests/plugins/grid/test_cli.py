"""``callcenter grid import`` against a real SQLite file (the real command in a subprocess)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from callcenter.db.models import Grid, User
from callcenter.db.session import session_scope
from tests.kernel.test_cli import cc
from tests.plugins.grid.conftest import GRIDS_CSV, MEMBERS_CSV


def test_grid_import_command(seeded_sqlite: str, tmp_path: Path) -> None:
    grids, members = tmp_path / "grids.csv", tmp_path / "members.csv"
    grids.write_text(GRIDS_CSV, encoding="utf-8")
    members.write_text(MEMBERS_CSV, encoding="utf-8")
    r = cc(
        "grid",
        "import",
        "--grids",
        str(grids),
        "--members",
        str(members),
        "--initial-password",
        "first-login-pass-1",
        db=seeded_sqlite,
    )
    assert r.returncode == 0, r.stderr
    assert "imported 2 grids, 3 grid members" in r.stdout
    with session_scope(seeded_sqlite) as s:
        assert s.scalar(select(func.count()).select_from(Grid)) == 2
        assert s.scalar(select(User.role).where(User.username == "leader1")) == "grid_worker"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "code,name,community_code\nG7,第七网格,110101001001\nG8,第八网格,nowhere\n", encoding="utf-8"
    )
    r = cc("grid", "import", "--grids", str(bad), db=seeded_sqlite)
    assert r.returncode == 2 and "line 3" in r.stderr and "not a community" in r.stderr
    with session_scope(seeded_sqlite) as s:
        assert s.get(Grid, "G7") is None  # nothing of the bad file was written
    r = cc("grid", "import", "--grids", str(grids), "--members", str(members), db=seeded_sqlite)
    assert r.returncode != 0 and "initial-password" in r.stderr

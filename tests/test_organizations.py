"""Organizations, members and roles: the permission matrix, the rules of membership (an
organization keeps an owner; a project role overrides the organization's), the migration that
brings existing accounts in, the CLI, and what Dify's key check sees."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

import aiohttp
import pytest

from storage import Store
from storage.projects import DEFAULT_ORGANIZATION_ID
from tests.conftest import run_cli
from tracehouse.errors import Conflict, InvalidInput, NotFound
from tracehouse.roles import MATRIX, Permission, Role, allowed, effective_role, parse_role
from tracehouse.server import Running

P = Permission


def test_the_matrix_row_by_row() -> None:
    assert MATRIX[Role.OWNER] == frozenset(Permission)
    assert MATRIX[Role.ADMIN] == frozenset(Permission) - {P.MANAGE_ORGANIZATION}
    assert MATRIX[Role.MEMBER] == {P.VIEW_DATA, P.SCORE, P.WRITE_CONTENT}
    assert MATRIX[Role.VIEWER] == {P.VIEW_DATA}
    assert MATRIX[Role.NONE] == frozenset()
    # Each role can do at least what the role below it can.
    ladder = [Role.NONE, Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER]
    for lower, higher in itertools.pairwise(ladder):
        assert MATRIX[lower] < MATRIX[higher]
    assert allowed(Role.ADMIN, P.MANAGE_KEYS) and not allowed(Role.MEMBER, P.MANAGE_KEYS)
    assert effective_role(Role.NONE, Role.VIEWER) == Role.VIEWER  # a project role overrides
    assert effective_role(Role.ADMIN, Role.VIEWER) == Role.VIEWER  # also downwards
    assert effective_role(Role.MEMBER, None) == Role.MEMBER
    assert effective_role(None, None) == Role.NONE
    assert parse_role("viewer") == Role.VIEWER
    with pytest.raises(ValueError, match="one of OWNER, ADMIN"):
        parse_role("boss")


async def test_members_roles_and_the_last_owner(store: Store) -> None:
    orgs = store.organizations
    dify = await orgs.create_organization("dify", owner_id="usr-ada")
    with pytest.raises(Conflict, match="exists already"):
        await orgs.create_organization("dify")
    with pytest.raises(InvalidInput):
        await orgs.create_organization("\x00bad")
    assert (await orgs.get_organization("dify")).id == dify.id
    with pytest.raises(NotFound):
        await orgs.get_organization("nope")

    llm = await store.projects.create_project("dify-llm", dify.id)
    other = await store.projects.create_project("dify-other", dify.id)
    assert [p.id for p in await orgs.projects_of(dify.id)] == [llm.id, other.id]

    # The last owner can be neither demoted nor removed.
    with pytest.raises(Conflict, match="last owner"):
        await orgs.set_role(dify.id, "usr-ada", Role.ADMIN)
    with pytest.raises(Conflict, match="last owner"):
        await orgs.remove_member(dify.id, "usr-ada")
    await orgs.set_role(dify.id, "usr-bob", Role.OWNER)
    await orgs.set_role(dify.id, "usr-ada", Role.ADMIN)  # now there is another owner
    assert {m.user_id: m.role for m in await orgs.members(dify.id)} == {"usr-ada": Role.ADMIN, "usr-bob": Role.OWNER}

    # Role NONE in the organization and VIEWER in one project: that project alone.
    await orgs.set_role(dify.id, "usr-cy", Role.NONE)
    await orgs.set_project_role(llm.id, "usr-cy", Role.VIEWER)
    assert [p.id for p in await orgs.visible_projects("usr-cy")] == [llm.id]
    roles = await orgs.roles_of("usr-cy")
    assert roles.may(llm, P.VIEW_DATA) and not roles.may(llm, P.SCORE) and not roles.may(other, P.VIEW_DATA)
    assert [o.id for o in await orgs.visible_organizations("usr-cy")] == [dify.id]
    with pytest.raises(InvalidInput, match="organization role"):
        await orgs.set_project_role(llm.id, "usr-cy", Role.OWNER)
    # A project role can also take access away in one project.
    await orgs.set_role(dify.id, "usr-dee", Role.MEMBER)
    await orgs.set_project_role(other.id, "usr-dee", Role.NONE)
    assert [p.id for p in await orgs.visible_projects("usr-dee")] == [llm.id]

    # Leaving the organization ends the project roles there too.
    await orgs.remove_member(dify.id, "usr-cy")
    assert await orgs.visible_projects("usr-cy") == []
    assert await orgs.visible_organizations("usr-cy") == []
    with pytest.raises(NotFound):
        await orgs.remove_member(dify.id, "usr-cy")
    # Someone of no organization sees nothing; the default organization is untouched.
    assert await orgs.visible_projects("usr-nobody") == []
    assert (await orgs.get_organization(DEFAULT_ORGANIZATION_ID)).name == "Default"


async def test_migration_6_brings_existing_accounts_into_the_default_organization(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = await Store.open(data_dir=data_dir)
    from storage.users import Users

    users = Users(first.backend)
    admin = await users.create("ada@example.com", "Ada", "a very good password")
    second = await users.create("bob@example.com", "Bob", "another good password")
    # Put the store back to version 5: no memberships yet.
    await first.backend.execute("DROP TABLE memberships SYNC")
    await first.backend.execute("DROP TABLE project_memberships SYNC")
    await first.backend.execute("DELETE FROM schema_migrations WHERE version > 5")
    await first.close()

    again = await Store.open(data_dir=data_dir)
    try:
        members = {m.user_id: m.role for m in await again.organizations.members(DEFAULT_ORGANIZATION_ID)}
        assert members == {admin.id: Role.OWNER, second.id: Role.MEMBER}
        assert [p.id for p in await again.organizations.visible_projects(second.id)] == ["default"]
    finally:
        await again.close()


def test_cli_orgs_and_projects_in_them(tmp_path: Path) -> None:
    d = ["--data-dir", str(tmp_path / "data")]
    created = run_cli("orgs", "create", "dify", *d)
    assert created.returncode == 0 and "created organization 'dify'" in created.stdout, created.stderr
    listed = run_cli("orgs", "list", *d)
    assert "dify" in listed.stdout and "Default" in listed.stdout
    project = run_cli("projects", "create", "dify-llm", "--org", "dify", *d)
    assert project.returncode == 0, project.stderr
    org_id = created.stdout.strip().rsplit(" ", 1)[-1]
    assert org_id in run_cli("projects", "list", *d).stdout
    missing = run_cli("projects", "create", "stray", "--org", "no-such-org", *d)
    assert missing.returncode == 1 and "no organization" in missing.stderr


async def test_difys_key_check_names_the_projects_organization(live: Running) -> None:
    dify = await live.store.organizations.create_organization("dify")
    project = await live.store.projects.create_project("dify-llm", dify.id)
    pair = await live.store.projects.create_key(project.id)
    live.changed()
    token = base64.b64encode(f"{pair.public_key}:{pair.secret_key}".encode()).decode()
    async with (
        aiohttp.ClientSession() as session,
        session.get(live.api_url + "/api/public/projects", headers={"Authorization": f"Basic {token}"}) as r,
    ):
        doc = await r.json()
    assert r.status == 200
    assert doc["data"][0]["id"] == project.id and doc["data"][0]["name"] == "dify-llm"
    assert doc["data"][0]["organization"] == {"id": dify.id, "name": "dify"}

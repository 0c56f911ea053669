import pytest

from storage import Store
from storage.projects import DEFAULT_PROJECT_ID, hash_secret
from tracehouse.errors import Conflict, InvalidInput, NotFound


async def test_default_project_exists_after_first_start(store: Store) -> None:
    [project] = await store.projects.list_projects()
    assert project.id == DEFAULT_PROJECT_ID
    assert project.organization_id == "default"


async def test_create_list_delete_projects(store: Store) -> None:
    a = await store.projects.create_project("team-a", retention_days=14)
    assert a.id.startswith("prj-") and a.retention_days == 14
    assert [p.name for p in await store.projects.list_projects()] == ["default", "team-a"]
    assert (await store.projects.get_project("team-a")).id == a.id
    assert (await store.projects.get_project(a.id)).name == "team-a"
    with pytest.raises(Conflict):
        await store.projects.create_project("team-a")
    with pytest.raises(InvalidInput):
        await store.projects.create_project("bad\nname")
    with pytest.raises(InvalidInput):
        await store.projects.create_project("x", retention_days=-1)
    await store.projects.delete_project("team-a")
    assert [p.name for p in await store.projects.list_projects()] == ["default"]
    with pytest.raises(NotFound):
        await store.projects.get_project(a.id)
    # the name is free again
    await store.projects.create_project("team-a")


async def test_keys_verify_and_revoke(store: Store) -> None:
    pair = await store.projects.create_key("default", note="ci")
    assert pair.public_key.startswith("pk-th-") and pair.secret_key.startswith("sk-th-")
    assert len(pair.secret_key) >= 40
    assert await store.projects.verify(pair.public_key, pair.secret_key) == "default"
    assert await store.projects.verify_secret(pair.secret_key) == "default"
    assert await store.projects.verify(pair.public_key, pair.secret_key + "x") is None
    assert await store.projects.verify("pk-th-unknown", pair.secret_key) is None
    assert await store.projects.has_keys()

    [listed] = await store.projects.list_keys("default")
    assert listed.public_key == pair.public_key and listed.active
    assert listed.secret_hint.endswith(pair.secret_key[-4:])

    revoked = await store.projects.revoke_key(pair.public_key)
    assert not revoked.active
    assert await store.projects.verify(pair.public_key, pair.secret_key) is None
    assert await store.projects.verify_secret(pair.secret_key) is None
    assert not await store.projects.has_keys()
    with pytest.raises(NotFound):
        await store.projects.revoke_key("pk-th-nope")


async def test_deleting_a_project_revokes_its_keys(store: Store) -> None:
    project = await store.projects.create_project("doomed")
    pair = await store.projects.create_key(project.id)
    await store.projects.delete_project(project.id)
    assert await store.projects.verify(pair.public_key, pair.secret_key) is None


async def test_secret_is_stored_nowhere(store: Store) -> None:
    pair = await store.projects.create_key("default")
    tables = await store.backend.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree'"
    )
    assert tables
    secret_part = pair.secret_key.removeprefix("sk-th-")
    digest = hash_secret(pair.secret_key)
    found_hash = False
    for t in tables:
        dump = await store.backend.query(f"SELECT toString(tuple(*)) AS row FROM {t['name']}")
        text = "\n".join(r["row"] for r in dump)
        assert secret_part not in text, t["name"]
        found_hash = found_hash or digest in text
    assert found_hash  # the check above looked where the key really is
    for path in store.backend.data_dir.rglob("*"):  # type: ignore[attr-defined]
        if path.is_file():
            assert secret_part.encode() not in path.read_bytes(), path


async def test_project_names_are_unique_within_an_organization_not_across(store: Store) -> None:
    """Two teams may each have a "production" project; one organization may not have two."""
    other = await store.organizations.create_organization("other team")
    mine = await store.projects.create_project("production")
    theirs = await store.projects.create_project("production", other.id)
    assert mine.id != theirs.id and theirs.organization_id == other.id
    with pytest.raises(Conflict):
        await store.projects.create_project("production", other.id)
    staging = await store.projects.create_project("staging", other.id)
    with pytest.raises(Conflict):
        await store.projects.rename_project(staging.id, "production")
    await store.projects.rename_project(staging.id, "default")  # the Default organization's name is free here
    # By id, always the one; by a shared name, a clear error naming the ids instead of a guess.
    assert (await store.projects.get_project(theirs.id)).organization_id == other.id
    with pytest.raises(InvalidInput, match="several projects are named 'production'"):
        await store.projects.get_project("production")
    assert [p.id for p in await store.projects.find_projects("production")] == [mine.id, theirs.id]
    await store.projects.delete_project(mine.id)
    assert (await store.projects.get_project("production")).id == theirs.id

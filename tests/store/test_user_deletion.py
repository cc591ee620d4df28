"""Deleting a user removes everything granted to them: a new user of the same name starts bare."""

from __future__ import annotations

from perennia.entities import Role
from perennia.store import open_store

DIGEST = "c" * 64


def test_a_recreated_user_inherits_no_role_token_or_upload_grant(sql_store_uri: str) -> None:
    store = open_store(sql_store_uri)
    store.registry.create_registered_model("fraud")
    experiment_id = store.experiments.create("private")
    old = store.users.create_user("bob", "bob-password-1")
    store.model_roles.set_model_role("fraud", "bob", "manager")
    store.access.set_role(experiment_id, "bob", Role.EDITOR)
    secret = store.users.create_token("bob", "laptop")[1]
    store.access.record_upload(DIGEST, "bob")
    assert store.access.may_use_blob(DIGEST, old, restricted=True)

    store.users.delete_user("bob")
    new = store.users.create_user("bob", "bob-password-2")
    assert store.model_roles.model_role_of("fraud", new.user_id) is None
    assert store.access.role_of(experiment_id, new.user_id) is None
    assert store.users.authenticate_token(secret) is None
    assert not store.access.may_use_blob(DIGEST, new, restricted=True)
    store.close()

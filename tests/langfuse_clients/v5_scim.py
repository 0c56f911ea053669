"""Run with langfuse 5.x on the path: SCIM user provisioning (api.scim) with an organization-scoped
key, as an identity provider's connector or a platform team's script does it.

Prints one JSON line. Arguments: host org_public_key org_secret_key.
"""

import json
import sys

from langfuse import Langfuse
from langfuse.api import NotFoundError
from langfuse.api.scim import ScimEmail, ScimName

host, public_key, secret_key = sys.argv[1:4]
scim = Langfuse(public_key=public_key, secret_key=secret_key, host=host).api.scim
out: dict = {}
config = scim.get_service_provider_config()
out["config"] = {"patch": config.patch.supported, "filter": config.filter.supported, "bulk": config.bulk.supported}
out["resource_types"] = [r.id for r in scim.get_resource_types().resources]
out["schemas"] = [s.id for s in scim.get_schemas().resources]
made = scim.create_user(
    user_name="Grace@Example.com",
    name=ScimName(formatted="Grace Hopper"),
    emails=[ScimEmail(primary=True, value="grace@example.com", type="work")],
    active=True,
    password="okta-placeholder",
)
out["created"] = {"id": made.id, "user_name": made.user_name, "name": made.name.formatted}
out["found"] = [u.user_name for u in scim.list_users(filter='userName eq "grace@example.com"').resources]
out["all"] = sorted(u.user_name for u in scim.list_users().resources)
page = scim.list_users(start_index=2, count=1)
out["page"] = {"total": page.total_results, "start": page.start_index, "per_page": page.items_per_page}
out["got"] = scim.get_user(made.id).user_name
scim.delete_user(made.id)
try:
    scim.get_user(made.id)
    out["after_delete"] = "still there"
except NotFoundError:
    out["after_delete"] = "not found"
out["found_after"] = [u.user_name for u in scim.list_users(filter='userName eq "grace@example.com"').resources]
print(json.dumps(out))

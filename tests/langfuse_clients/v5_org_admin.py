"""Run with langfuse 5.x on the path: the administration API with an organization-scoped key
(api.organizations and api.projects), as a platform team's automation would use it.

Prints one JSON line. Arguments: host org_public_key org_secret_key colleague_user_id.
"""

import json
import sys

from langfuse import Langfuse

host, public_key, secret_key, colleague = sys.argv[1:5]
api = Langfuse(public_key=public_key, secret_key=secret_key, host=host).api
out: dict = {}
out["projects_before"] = sorted(p.name for p in api.organizations.get_organization_projects().projects)
project = api.projects.create(name="team-b", retention=30)
out["created"] = {"name": project.name, "retention": project.retention_days, "org": project.organization.id}
key = api.projects.create_api_key(project.id, note="ci")
out["key"] = {"public": key.public_key, "secret": key.secret_key, "display": key.display_secret_key}
out["keys"] = [k.public_key for k in api.projects.get_api_keys(project.id).api_keys]
renamed = api.projects.update(project.id, name="team-b2", retention=7)
out["renamed"] = {"name": renamed.name, "retention": renamed.retention_days}
member = api.organizations.update_organization_membership(user_id=colleague, role="VIEWER")
out["org_member"] = {"role": member.role, "email": member.email}
out["org_members"] = sorted((m.email, m.role) for m in api.organizations.get_organization_memberships().memberships)
pm = api.organizations.update_project_membership(project.id, user_id=colleague, role="ADMIN")
out["project_member"] = pm.role
out["project_members"] = [
    (m.user_id, m.role) for m in api.organizations.get_project_memberships(project.id).memberships
]
out["project_member_deleted"] = api.organizations.delete_project_membership(project.id, user_id=colleague).user_id
out["org_keys"] = [k.public_key for k in api.organizations.get_organization_api_keys().api_keys]
out["key_deleted"] = api.projects.delete_api_key(project.id, key.id).success
out["keys_after"] = [k.public_key for k in api.projects.get_api_keys(project.id).api_keys]
out["project_deleted"] = api.projects.delete(project.id).success
out["projects_after"] = sorted(p.name for p in api.organizations.get_organization_projects().projects)
print(json.dumps(out, default=str))

"""The people tests act as: one per role, as the dashboard would admit them."""

from core.access import Actor, Role, local_admin

ADMIN = local_admin(name="admin@example.com", via="web")
EDITOR = Actor(name="editor@example.com", role=Role.EDITOR)
VIEWER = Actor(name="viewer@example.com", role=Role.VIEWER)

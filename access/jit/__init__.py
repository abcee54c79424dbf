"""Just-in-time namespace access: policy, grants, the request playbook, the expiry sweep and the admin.

See docs/jit-access.md.
"""

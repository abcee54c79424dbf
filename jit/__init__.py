"""Just-in-time namespace access, built on playbooks: the request playbook, the grant's RoleBinding files in git,
the expiry sweep and the admin pages. The grant records, policy and rules are in ``access.jit``. See
docs/jit-access.md.
"""

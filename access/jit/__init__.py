"""Just-in-time access records and rules: the grant model, the policy (allowed roles, durations) and who may see,
revoke or extend a grant. The workflow built on playbooks (request, grant files in git, expiry sweep, admin) is the
top-level ``jit`` package, above playbooks. See docs/jit-access.md.
"""

"""The REST API (Django REST framework) and its personal tokens; the ``fluxplane`` CLI talks to it. See docs/api.md.

Every endpoint answers through access/rules.py, the same rules as the admin; objects a caller may not see are 404.
"""

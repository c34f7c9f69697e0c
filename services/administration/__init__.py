"""Administration service.

Accreditation schemes and records, memberships, complaints and the audit trail.
"""

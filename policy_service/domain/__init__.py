"""The insurance domain: ids, money, errors, policyholders and lifecycles. No Flask, no SQLAlchemy."""

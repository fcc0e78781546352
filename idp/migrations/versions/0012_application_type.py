"""Clients: application_type (OIDC Registration 2), web or native

Revision ID: 0012_application_type
Revises: 0011_pending_accounts
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_application_type"
down_revision = "0011_pending_accounts"
branch_labels = None
depends_on = None


def upgrade():
    # Every client registered before this revision followed the web rules.
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("application_type", sa.String(length=10), nullable=False,
                                   server_default="web"))


def downgrade():
    with op.batch_alter_table("client") as batch:
        batch.drop_column("application_type")

"""Pending accounts: a sign-up is active only once its address is confirmed

Revision ID: 0011_pending_accounts
Revises: 0010_session_details
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from idp.types import UTCDateTime

revision = "0011_pending_accounts"
down_revision = "0010_session_details"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("activated_at", UTCDateTime(), nullable=True))
    # Every account made before this revision could already sign in: it stays active.
    op.execute(sa.text('UPDATE "user" SET activated_at = created_at'))


def downgrade():
    with op.batch_alter_table("user") as batch:
        batch.drop_column("activated_at")

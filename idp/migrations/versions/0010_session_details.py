"""Session details: the network prefix of each browser session, and indexes for pruning

Revision ID: 0010_session_details
Revises: 0009_email_links
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_session_details"
down_revision = "0009_email_links"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("browser_session") as batch:
        batch.add_column(sa.Column("ip_prefix", sa.String(length=64), nullable=True))
        batch.create_index("ix_browser_session_expires_at", ["expires_at"])
        batch.create_index("ix_browser_session_last_seen_at", ["last_seen_at"])


def downgrade():
    with op.batch_alter_table("browser_session") as batch:
        batch.drop_index("ix_browser_session_last_seen_at")
        batch.drop_index("ix_browser_session_expires_at")
        batch.drop_column("ip_prefix")

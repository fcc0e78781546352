"""Where a platform receives the security events we push (issue 14, part 4)

Revision ID: 0017_events_uri
Revises: 0016_resources_delegation
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_events_uri"
down_revision = "0016_resources_delegation"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("events_uri", sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table("client") as batch:
        batch.drop_column("events_uri")

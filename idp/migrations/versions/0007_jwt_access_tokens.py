"""Access tokens as JWTs (RFC 9068), an option per client

Revision ID: 0007_jwt_access_tokens
Revises: 0006_subjects_and_keys
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_jwt_access_tokens"
down_revision = "0006_subjects_and_keys"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("access_token_format", sa.String(length=10),
                                   server_default="opaque", nullable=False))


def downgrade():
    with op.batch_alter_table("client") as batch:
        batch.drop_column("access_token_format")

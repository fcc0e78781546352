"""Token endpoints: client keys for private_key_jwt, and the jti of used assertions

Revision ID: 0006_token_endpoints
Revises: 0005_registration
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

import idp.types

revision = "0006_token_endpoints"
down_revision = "0005_registration"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("jwks", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("jwks_uri", sa.String(length=500), nullable=True))
    op.create_table(
        "used_assertion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["client.client_id"],
                                name=op.f("fk_used_assertion_client_id_client"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_used_assertion")),
        sa.UniqueConstraint("client_id", "jti", name=op.f("uq_used_assertion_client_id")),
    )
    op.create_index(op.f("ix_used_assertion_expires_at"), "used_assertion", ["expires_at"])


def downgrade():
    op.drop_index(op.f("ix_used_assertion_expires_at"), table_name="used_assertion")
    op.drop_table("used_assertion")
    with op.batch_alter_table("client") as batch:
        batch.drop_column("jwks_uri")
        batch.drop_column("jwks")

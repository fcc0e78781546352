"""Platform tokens: access tokens of the client credentials grant, with no traveller

Revision ID: 0012e_platform_tokens
Revises: 0012c_request_objects_par
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

import idp.types

revision = "0012e_platform_tokens"
down_revision = "0012c_request_objects_par"
branch_labels = None
depends_on = None


def upgrade():
    # A table of its own rather than a nullable user on "token": every token row there
    # belongs to a traveller, and the code that reads it relies on that.
    op.create_table(
        "platform_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("access_token_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("issued_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_in", sa.Integer(), nullable=False),
        sa.Column("revoked_at", idp.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["client.client_id"],
                                name=op.f("fk_platform_token_client_id_client"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_token")),
        sa.UniqueConstraint("access_token_hash",
                            name=op.f("uq_platform_token_access_token_hash")),
    )
    op.create_index(op.f("ix_platform_token_client_id"), "platform_token", ["client_id"])


def downgrade():
    op.drop_index(op.f("ix_platform_token_client_id"), table_name="platform_token")
    op.drop_table("platform_token")

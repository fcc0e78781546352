"""Links sent by email: address verification, change of address, password reset

Revision ID: 0009_email_links
Revises: 0008_mfa
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

import idp.types

revision = "0009_email_links"
down_revision = "0008_mfa"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "email_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("created_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", idp.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"],
                                name=op.f("fk_email_link_user_id_user"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_link")),
        sa.UniqueConstraint("nonce_hash", name=op.f("uq_email_link_nonce_hash")),
    )
    with op.batch_alter_table("email_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_link_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("email_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_link_user_id"))
    op.drop_table("email_link")

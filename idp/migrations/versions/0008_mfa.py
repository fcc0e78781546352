"""Two-step verification: TOTP authenticators and recovery codes

Revision ID: 0008_mfa
Revises: 0007_jwt_access_tokens
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

from idp.types import UTCDateTime

revision = "0008_mfa"
down_revision = "0007_jwt_access_tokens"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "totp_credential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_step", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id"),
    )
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("recovery_code") as batch:
        batch.create_index(batch.f("ix_recovery_code_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("recovery_code") as batch:
        batch.drop_index(batch.f("ix_recovery_code_user_id"))
    op.drop_table("recovery_code")
    op.drop_table("totp_credential")

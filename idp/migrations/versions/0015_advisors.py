"""Assisted access: mobility advisors, their sessions, and travellers' mandates

Revision ID: 0015_advisors
Revises: 0014_dpop_jkt_jar_jti
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

import idp.types

revision = "0015_advisors"
down_revision = "0014_dpop_jkt_jar_jti"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "advisor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("centre", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("setup_token_hash", sa.String(length=64), nullable=True),
        sa.Column("setup_expires_at", idp.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("totp_secret_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("totp_confirmed_at", idp.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("totp_last_used_step", sa.Integer(), nullable=True),
        sa.Column("created_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", idp.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advisor")),
        sa.UniqueConstraint("email", name=op.f("uq_advisor_email")),
        sa.UniqueConstraint("public_id", name=op.f("uq_advisor_public_id")),
        sa.UniqueConstraint("setup_token_hash", name=op.f("uq_advisor_setup_token_hash")),
    )
    op.create_table(
        "advisor_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("advisor_id", sa.Integer(), nullable=False),
        sa.Column("verified_at", idp.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["advisor_id"], ["advisor.id"], ondelete="CASCADE",
                                name=op.f("fk_advisor_session_advisor_id_advisor")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advisor_session")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_advisor_session_key_hash")),
    )
    op.create_index(op.f("ix_advisor_session_advisor_id"), "advisor_session", ["advisor_id"])
    op.create_table(
        "mandate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mandate_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("advisor_id", sa.Integer(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("platforms", sa.JSON(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("confirmation", sa.String(length=8), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", idp.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", idp.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", idp.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", idp.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=16), nullable=True),
        sa.Column("expiry_recorded_at", idp.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["advisor_id"], ["advisor.id"],
                                name=op.f("fk_mandate_advisor_id_advisor")),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE",
                                name=op.f("fk_mandate_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mandate")),
        sa.UniqueConstraint("mandate_id", name=op.f("uq_mandate_mandate_id")),
    )
    op.create_index(op.f("ix_mandate_advisor_id"), "mandate", ["advisor_id"])
    op.create_index(op.f("ix_mandate_user_id"), "mandate", ["user_id"])


def downgrade():
    op.drop_index(op.f("ix_mandate_user_id"), table_name="mandate")
    op.drop_index(op.f("ix_mandate_advisor_id"), table_name="mandate")
    op.drop_table("mandate")
    op.drop_index(op.f("ix_advisor_session_advisor_id"), table_name="advisor_session")
    op.drop_table("advisor_session")
    op.drop_table("advisor")

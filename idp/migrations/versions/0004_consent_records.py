"""Consent records (ISO/IEC TS 27560), mobility claims, scope policies, granted claims

Revision ID: 0004_consent_records
Revises: 0003_backchannel
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

import idp.types

revision = "0004_consent_records"
down_revision = "0003_backchannel"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("picture", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("mobility", sa.JSON(), nullable=False,
                                   server_default=sa.text("'{}'")))
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("scope_policy", sa.JSON(), nullable=False,
                                   server_default=sa.text("'{}'")))
    for table in ("authorization_code", "token"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("claims", sa.JSON(), nullable=False,
                                       server_default=sa.text("'[]'")))
    op.drop_table("consent_grant")
    op.create_table(
        "consent_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("schema_version", sa.String(length=8), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=False),
        sa.Column("event_time", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("previous_record_id", sa.String(length=36), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sub", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("controller", sa.JSON(), nullable=False),
        sa.Column("policy_uri", sa.String(length=500), nullable=True),
        sa.Column("tos_uri", sa.String(length=500), nullable=True),
        sa.Column("scopes_granted", sa.JSON(), nullable=False),
        sa.Column("claims_granted", sa.JSON(), nullable=False),
        sa.Column("scopes_refused", sa.JSON(), nullable=False),
        sa.Column("purposes", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("collection_method", sa.String(length=32), nullable=False),
        sa.Column("helper_id", sa.String(length=64), nullable=True),
        sa.Column("mandate_id", sa.String(length=64), nullable=True),
        sa.Column("consent_type", sa.String(length=16), nullable=False),
        sa.Column("lawful_basis", sa.String(length=16), nullable=False),
        sa.Column("acr", sa.String(length=64), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("auth_time", idp.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("valid_until", idp.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("jurisdiction", sa.String(length=8), nullable=False),
        sa.Column("withdrawal_method", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"],
                                name=op.f("fk_consent_record_user_id_user"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_record")),
        sa.UniqueConstraint("record_id", name=op.f("uq_consent_record_record_id")),
    )
    op.create_index("ix_consent_record_pair", "consent_record", ["user_id", "client_id", "id"])
    op.create_index(op.f("ix_consent_record_client_id"), "consent_record", ["client_id"])


def downgrade():
    op.drop_index(op.f("ix_consent_record_client_id"), table_name="consent_record")
    op.drop_index("ix_consent_record_pair", table_name="consent_record")
    op.drop_table("consent_record")
    op.create_table(
        "consent_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("granted_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["client.client_id"],
                                name=op.f("fk_consent_grant_client_id_client"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"],
                                name=op.f("fk_consent_grant_user_id_user"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_grant")),
        sa.UniqueConstraint("user_id", "client_id", name=op.f("uq_consent_grant_user_id")),
    )
    op.create_index(op.f("ix_consent_grant_client_id"), "consent_grant", ["client_id"])
    op.create_index(op.f("ix_consent_grant_user_id"), "consent_grant", ["user_id"])
    for table in ("token", "authorization_code"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("claims")
    with op.batch_alter_table("client") as batch:
        batch.drop_column("scope_policy")
    with op.batch_alter_table("user") as batch:
        batch.drop_column("mobility")
        batch.drop_column("picture")

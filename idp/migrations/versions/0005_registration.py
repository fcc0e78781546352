"""Dynamic client registration: initial access tokens, registration access tokens

Revision ID: 0005_registration
Revises: 0004_consent_records
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

import idp.types

revision = "0005_registration"
down_revision = "0004_consent_records"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("registration_access_token_hash", sa.String(length=64),
                                   nullable=True))
    op.create_table(
        "initial_access_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("uses_left", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_initial_access_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_initial_access_token_token_hash")),
    )


def downgrade():
    op.drop_table("initial_access_token")
    with op.batch_alter_table("client") as batch:
        batch.drop_column("registration_access_token_hash")

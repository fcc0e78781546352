"""DPoP (RFC 9449): the key a token is bound to, and the proofs seen recently

Revision ID: 0013_dpop
Revises: 0012e_platform_tokens
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

import idp.types

revision = "0013_dpop"
down_revision = "0012e_platform_tokens"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("token") as batch:
        batch.add_column(sa.Column("dpop_jkt", sa.String(length=43), nullable=True))
    # Proofs by digest of key and jti, kept for twice the accepted window: the unique
    # constraint refuses a replay even across instances (RFC 9449 11.1).
    op.create_table(
        "dpop_proof",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proof_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dpop_proof")),
        sa.UniqueConstraint("proof_hash", name=op.f("uq_dpop_proof_proof_hash")),
    )
    op.create_index(op.f("ix_dpop_proof_expires_at"), "dpop_proof", ["expires_at"])


def downgrade():
    op.drop_index(op.f("ix_dpop_proof_expires_at"), table_name="dpop_proof")
    op.drop_table("dpop_proof")
    with op.batch_alter_table("token") as batch:
        batch.drop_column("dpop_jkt")

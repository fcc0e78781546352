"""Codes bound to a DPoP key (RFC 9449 10), request objects used once (RFC 9101 10.8), and
an index to prune expired platform tokens

Revision ID: 0014_dpop_jkt_jar_jti
Revises: 0013_dpop
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

import idp.types

revision = "0014_dpop_jkt_jar_jti"
down_revision = "0013_dpop"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("authorization_code") as batch:
        batch.add_column(sa.Column("dpop_jkt", sa.String(length=43), nullable=True))
    # A request object's jti, by digest with its client's id, until the object expires:
    # the unique constraint refuses a replay even across instances.
    op.create_table(
        "request_object_jti",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jti_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_object_jti")),
        sa.UniqueConstraint("jti_hash", name=op.f("uq_request_object_jti_jti_hash")),
    )
    op.create_index(op.f("ix_request_object_jti_expires_at"), "request_object_jti",
                    ["expires_at"])
    # `idp sessions prune` deletes expired platform tokens by their issue time.
    op.create_index(op.f("ix_platform_token_issued_at"), "platform_token", ["issued_at"])


def downgrade():
    op.drop_index(op.f("ix_platform_token_issued_at"), table_name="platform_token")
    op.drop_index(op.f("ix_request_object_jti_expires_at"), table_name="request_object_jti")
    op.drop_table("request_object_jti")
    with op.batch_alter_table("authorization_code") as batch:
        batch.drop_column("dpop_jkt")

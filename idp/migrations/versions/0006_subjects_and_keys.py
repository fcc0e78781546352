"""Pairwise subjects (OIDC Core 8.1) and signing key rotation

Revision ID: 0006_subjects_and_keys
Revises: 0006_rp_logout
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

import idp.types

revision = "0006_subjects_and_keys"
down_revision = "0006_rp_logout"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("subject_type", sa.String(length=10),
                                   server_default="pairwise", nullable=False))
        batch.add_column(sa.Column("sector_identifier_uri", sa.String(length=500),
                                   nullable=True))
    op.create_table(
        "pairwise_subject",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sector", sa.String(length=255), nullable=False),
        sa.Column("sub", sa.String(length=64), nullable=False),
        sa.Column("created_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"],
                                name=op.f("fk_pairwise_subject_user_id_user"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairwise_subject")),
        sa.UniqueConstraint("user_id", "sector", name=op.f("uq_pairwise_subject_user_id")),
    )
    with op.batch_alter_table("pairwise_subject") as batch:
        batch.create_index(batch.f("ix_pairwise_subject_sub"), ["sub"], unique=False)
    with op.batch_alter_table("signing_key") as batch:
        batch.add_column(sa.Column("activates_at", idp.types.UTCDateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("retired_at", idp.types.UTCDateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("removed_at", idp.types.UTCDateTime(timezone=True),
                                   nullable=True))
    # Keys made before rotation existed have signed since they were created.
    op.execute("UPDATE signing_key SET activates_at = created_at")
    with op.batch_alter_table("signing_key") as batch:
        batch.alter_column("activates_at", existing_type=idp.types.UTCDateTime(timezone=True),
                           nullable=False)


def downgrade():
    with op.batch_alter_table("signing_key") as batch:
        batch.drop_column("removed_at")
        batch.drop_column("retired_at")
        batch.drop_column("activates_at")
    with op.batch_alter_table("pairwise_subject") as batch:
        batch.drop_index(batch.f("ix_pairwise_subject_sub"))
    op.drop_table("pairwise_subject")
    with op.batch_alter_table("client") as batch:
        batch.drop_column("sector_identifier_uri")
        batch.drop_column("subject_type")

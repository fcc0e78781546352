"""Resources platforms serve, delegations in consent records, exchanged tokens' audience

Revision ID: 0016_resources_delegation
Revises: 0015_advisors
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

import idp.types

revision = "0016_resources_delegation"
down_revision = "0015_advisors"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "resource",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uri", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("created_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["client.client_id"],
                                name=op.f("fk_resource_client_id_client"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource")),
        sa.UniqueConstraint("uri", name=op.f("uq_resource_uri")),
    )
    op.create_index(op.f("ix_resource_client_id"), "resource", ["client_id"], unique=False)
    with op.batch_alter_table("consent_record") as batch:
        batch.add_column(sa.Column("delegations", sa.JSON(), server_default="[]",
                                   nullable=False))
    with op.batch_alter_table("token") as batch:
        batch.add_column(sa.Column("audience", sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table("token") as batch:
        batch.drop_column("audience")
    with op.batch_alter_table("consent_record") as batch:
        batch.drop_column("delegations")
    op.drop_index(op.f("ix_resource_client_id"), table_name="resource")
    op.drop_table("resource")

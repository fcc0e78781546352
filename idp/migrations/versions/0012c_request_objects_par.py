"""Pushed authorization requests (RFC 9126) and request object settings per client

Revision ID: 0012c_request_objects_par
Revises: 0012_application_type
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from idp.types import UTCDateTime

revision = "0012c_request_objects_par"
down_revision = "0012_application_type"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("require_pushed_authorization_requests", sa.Boolean(),
                                   server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("request_object_signing_alg", sa.String(length=10),
                                   nullable=True))
    op.create_table(
        "pushed_authorization_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_uri_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["client.client_id"],
                                name=op.f("fk_pushed_authorization_request_client_id_client"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pushed_authorization_request")),
        sa.UniqueConstraint("request_uri_hash",
                            name=op.f("uq_pushed_authorization_request_request_uri_hash")),
    )
    op.create_index(op.f("ix_pushed_authorization_request_client_id"),
                    "pushed_authorization_request", ["client_id"])
    op.create_index(op.f("ix_pushed_authorization_request_expires_at"),
                    "pushed_authorization_request", ["expires_at"])


def downgrade():
    op.drop_index(op.f("ix_pushed_authorization_request_expires_at"),
                  table_name="pushed_authorization_request")
    op.drop_index(op.f("ix_pushed_authorization_request_client_id"),
                  table_name="pushed_authorization_request")
    op.drop_table("pushed_authorization_request")
    with op.batch_alter_table("client") as batch:
        batch.drop_column("request_object_signing_alg")
        batch.drop_column("require_pushed_authorization_requests")

"""RP-initiated logout: post_logout_redirect_uris; the claims request of codes and tokens

Revision ID: 0006_rp_logout
Revises: 0006_token_endpoints
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_rp_logout"
down_revision = "0006_token_endpoints"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("post_logout_redirect_uris", sa.JSON(), server_default="[]",
                                   nullable=False))
    for table in ("authorization_code", "token"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("claims_request", sa.JSON(), nullable=True))


def downgrade():
    for table in ("token", "authorization_code"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("claims_request")
    with op.batch_alter_table("client") as batch:
        batch.drop_column("post_logout_redirect_uris")

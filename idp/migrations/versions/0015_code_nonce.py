"""Codes' nonces by digest, behind an index with their client: the replay check at every
authorization no longer scans the codes (issue 13)

Revision ID: 0015_code_nonce
Revises: 0014_dpop_jkt_jar_jti
Create Date: 2026-12-06
"""
import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0015_code_nonce"
down_revision = "0014_dpop_jkt_jar_jti"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade():
    with op.batch_alter_table("authorization_code") as batch:
        batch.add_column(sa.Column("nonce_digest", sa.String(length=64), nullable=True))
    codes = sa.table("authorization_code", sa.column("id", sa.Integer),
                     sa.column("nonce", sa.Text), sa.column("nonce_digest", sa.String))
    connection = op.get_bind()
    last = 0
    while True:  # the codes kept so far keep their replay check
        rows = connection.execute(
            sa.select(codes.c.id, codes.c.nonce)
            .where(codes.c.id > last, codes.c.nonce.is_not(None))
            .order_by(codes.c.id).limit(BATCH)).all()
        if not rows:
            break
        for row in rows:
            connection.execute(codes.update().where(codes.c.id == row.id).values(
                nonce_digest=hashlib.sha256(row.nonce.encode("utf-8")).hexdigest()))
        last = rows[-1].id
    op.create_index("ix_authorization_code_client_nonce", "authorization_code",
                    ["client_id", "nonce_digest"])


def downgrade():
    op.drop_index("ix_authorization_code_client_nonce", table_name="authorization_code")
    with op.batch_alter_table("authorization_code") as batch:
        batch.drop_column("nonce_digest")

"""One-time codes sent by SMS (idp.accounts.sms_codes), and the phone number indexed for
recovery by SMS

Revision ID: 0015_sms_codes
Revises: 0015_code_nonce
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

import idp.types
from idp.accounts.phones import normalize_number

revision = "0015_sms_codes"
down_revision = "0015_code_nonce"
branch_labels = None
depends_on = None


def upgrade():
    # Only an HMAC of each code; the number stays to count the sending limit per number.
    op.create_table(
        "sms_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", idp.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", idp.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_sms_code_user_id_user"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_code")),
    )
    op.create_index(op.f("ix_sms_code_user_id"), "sms_code", ["user_id"])
    op.create_index(op.f("ix_sms_code_number"), "sms_code", ["number"])
    normalise_phone_numbers()
    op.create_index(op.f("ix_user_phone_number"), "user", ["phone_number"])


def normalise_phone_numbers():
    """Numbers saved before are as typed ("06 12 34 56 78"); recovery by SMS looks them up
    in E.164. Each one that can be read as a number is rewritten; others stay as typed."""
    users = sa.table("user", sa.column("id", sa.Integer),
                     sa.column("phone_number", sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.phone_number)
                              .where(users.c.phone_number.is_not(None))).all()
    for row in rows:
        number = normalize_number(row.phone_number)
        if number is not None and number != row.phone_number:
            connection.execute(users.update().where(users.c.id == row.id)
                               .values(phone_number=number))


def downgrade():
    op.drop_index(op.f("ix_user_phone_number"), table_name="user")
    op.drop_index(op.f("ix_sms_code_number"), table_name="sms_code")
    op.drop_index(op.f("ix_sms_code_user_id"), table_name="sms_code")
    op.drop_table("sms_code")

"""idempotency claims: a key is claimed (in_progress) before its work, then done with its response

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 00:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), server_default='done', nullable=False))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(), nullable=True))
        batch_op.alter_column('status_code', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys WHERE status != 'done' OR status_code IS NULL")
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.alter_column('status_code', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('status')

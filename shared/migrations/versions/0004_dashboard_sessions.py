"""dashboard sessions and failed logins

Revision ID: 0004_dashboard_sessions
Revises: 0003_outbox
Create Date: 2026-11-30 01:10:00.000000

Server-side dashboard sessions (logout revokes a copied cookie on every receiver) and the failed-login counts of
the login throttle, shared by every receiver process (issue 11, finding 10).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_dashboard_sessions'
down_revision = '0003_outbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dashboard_sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('api_key_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_dashboard_sessions'))
    )
    with op.batch_alter_table('dashboard_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dashboard_sessions_expires_at'), ['expires_at'], unique=False)

    op.create_table('login_failures',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_failures'))
    )


def downgrade() -> None:
    op.drop_table('login_failures')
    with op.batch_alter_table('dashboard_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dashboard_sessions_expires_at'))

    op.drop_table('dashboard_sessions')

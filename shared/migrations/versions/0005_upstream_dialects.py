"""job warnings

Revision ID: 0005_upstream_dialects
Revises: 0004_dashboard_sessions
Create Date: 2026-11-30 02:40:00.000000

What a job was accepted with but warned about (an unknown model name sent as given, fields inspiration mode does not
document), kept with the job and shown with its events (issue 14, finding 2).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005_upstream_dialects'
down_revision = '0004_dashboard_sessions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('warnings', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('warnings')

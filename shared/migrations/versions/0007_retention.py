"""retention: daily cost totals of pruned attempts

Revision ID: 0007_retention
Revises: 0006_artifact_store
Create Date: 2026-11-30 02:40:00.000000

`hookline prune` deletes old attempts; their money is folded into one row per day, operation and API key first,
so the ledger's totals (`hookline costs`, the dashboard's cost pages) never change (issue 15).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007_retention'
down_revision = '0006_artifact_store'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cost_days',
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('operation', sa.String(length=32), nullable=False),
    sa.Column('api_key_id', sa.String(length=32), nullable=False),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.Column('paid_calls', sa.Integer(), nullable=False),
    sa.Column('usd', sa.Float(), nullable=False),
    sa.Column('possible_duplicate_usd', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'operation', 'api_key_id', name=op.f('pk_cost_days'))
    )


def downgrade() -> None:
    op.drop_table('cost_days')

"""admission: job priority, owner, queue group and admission mark; API key limits

Revision ID: 0008_admission
Revises: 0007_retention
Create Date: 2026-11-30 02:45:00.000000

A queued job waits as a row (no broker message) until the admission step (shared/admission/) marks it admitted
and publishes its submit. Jobs that exist at the upgrade were enqueued the old way: they count as admitted.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_admission'
down_revision = '0007_retention'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), nullable=False, server_default='200'))
        batch_op.add_column(sa.Column('owner', sa.String(length=32), nullable=False, server_default='local'))
        batch_op.add_column(sa.Column('queue_group', sa.String(length=32), nullable=False,
                                      server_default=sa.text("''")))
        batch_op.add_column(sa.Column('admitted_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_jobs_admission', ['status', 'admitted_at', 'owner', 'queue_group', 'priority',
                                                    'created_at'], unique=False)
    op.execute("UPDATE jobs SET admitted_at = created_at")
    op.execute("UPDATE jobs SET owner = api_key_id WHERE api_key_id IS NOT NULL")
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_in_flight', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rate', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('default_priority', sa.Integer(), nullable=True))
    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), nullable=True))
    with op.batch_alter_table('bulk_batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bulk_batches', schema=None) as batch_op:
        batch_op.drop_column('priority')
    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.drop_column('priority')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('default_priority')
        batch_op.drop_column('rate')
        batch_op.drop_column('max_in_flight')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_admission')
        batch_op.drop_column('admitted_at')
        batch_op.drop_column('queue_group')
        batch_op.drop_column('owner')
        batch_op.drop_column('priority')

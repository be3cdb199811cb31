"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 08:08:12.144001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('api_keys',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('budget_usd_per_day', sa.Float(), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_table('bulk_batches',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('api_key_id', sa.String(length=32), nullable=True),
    sa.Column('callback_url', sa.Text(), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('finished_event_sent', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulk_batches'))
    )
    with op.batch_alter_table('bulk_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bulk_batches_api_key_id'), ['api_key_id'], unique=False)

    op.create_table('callbacks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=True),
    sa.Column('attempt_no', sa.Integer(), nullable=True),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('upstream_status', sa.String(length=16), nullable=True),
    sa.Column('http_status', sa.Integer(), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callbacks'))
    )
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callbacks_job_id'), ['job_id'], unique=False)

    op.create_table('deliveries',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('msg_id', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=32), nullable=False),
    sa.Column('api_key_id', sa.String(length=32), nullable=True),
    sa.Column('target_url', sa.Text(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_http_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('msg_id', name=op.f('uq_deliveries_msg_id'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deliveries_api_key_id'), ['api_key_id'], unique=False)
        batch_op.create_index('ix_deliveries_status_next', ['status', 'next_attempt_at'], unique=False)

    op.create_table('disabled_endpoints',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('target_url', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disabled_endpoints')),
    sa.UniqueConstraint('target_url', name=op.f('uq_disabled_endpoints_target_url'))
    )
    op.create_table('heartbeats',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_heartbeats'))
    )
    op.create_table('idempotency_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('api_key_id', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('api_key_id', 'key', name='uq_idempotency_owner_key')
    )
    op.create_table('rate_buckets',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('tokens', sa.Float(), nullable=False),
    sa.Column('rate', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('penalty_until', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_rate_buckets'))
    )
    op.create_table('bulk_lines',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('owner', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('bulk_id', sa.String(length=32), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=True),
    sa.Column('pipeline_id', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['bulk_id'], ['bulk_batches.id'], name=op.f('fk_bulk_lines_bulk_id_bulk_batches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulk_lines')),
    sa.UniqueConstraint('owner', 'key', name='uq_bulk_lines_owner_key')
    )
    with op.batch_alter_table('bulk_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bulk_lines_bulk_id'), ['bulk_id'], unique=False)

    op.create_table('pipelines',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=True),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('api_key_id', sa.String(length=32), nullable=True),
    sa.Column('callback_url', sa.Text(), nullable=True),
    sa.Column('bulk_id', sa.String(length=32), nullable=True),
    sa.Column('next_check_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_pipelines_api_key_id_api_keys')),
    sa.ForeignKeyConstraint(['bulk_id'], ['bulk_batches.id'], name=op.f('fk_pipelines_bulk_id_bulk_batches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipelines'))
    )
    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pipelines_api_key_id'), ['api_key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pipelines_bulk_id'), ['bulk_id'], unique=False)
        batch_op.create_index('ix_pipelines_status_next_check', ['status', 'next_check_at'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('operation', sa.String(length=32), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('upstream_task_id', sa.String(length=128), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('progress', sa.String(length=16), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('next_check_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('pipeline_id', sa.String(length=32), nullable=True),
    sa.Column('step_name', sa.String(length=64), nullable=True),
    sa.Column('fan_index', sa.Integer(), nullable=True),
    sa.Column('bulk_id', sa.String(length=32), nullable=True),
    sa.Column('api_key_id', sa.String(length=32), nullable=True),
    sa.Column('callback_url', sa.Text(), nullable=True),
    sa.Column('polls', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_jobs_api_key_id_api_keys')),
    sa.ForeignKeyConstraint(['bulk_id'], ['bulk_batches.id'], name=op.f('fk_jobs_bulk_id_bulk_batches')),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], name=op.f('fk_jobs_pipeline_id_pipelines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_api_key_id'), ['api_key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_bulk_id'), ['bulk_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_pipeline_id'), ['pipeline_id'], unique=False)
        batch_op.create_index('ix_jobs_status_next_check', ['status', 'next_check_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_upstream_task_id'), ['upstream_task_id'], unique=False)

    op.create_table('pipeline_steps',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('pipeline_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('operation', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], name=op.f('fk_pipeline_steps_pipeline_id_pipelines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipeline_steps')),
    sa.UniqueConstraint('pipeline_id', 'name', name='uq_steps_pipeline_name')
    )
    op.create_table('artifacts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('clip_id', sa.String(length=128), nullable=True),
    sa.Column('source_url', sa.Text(), nullable=False),
    sa.Column('path', sa.Text(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('content_type', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_artifacts_job_id_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifacts')),
    sa.UniqueConstraint('job_id', 'source_url', name='uq_artifacts_job_source')
    )
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifacts_job_id'), ['job_id'], unique=False)

    op.create_table('clips',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('clip_id', sa.String(length=128), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('audio_url', sa.Text(), nullable=True),
    sa.Column('image_url', sa.Text(), nullable=True),
    sa.Column('image_large_url', sa.Text(), nullable=True),
    sa.Column('video_url', sa.Text(), nullable=True),
    sa.Column('duration', sa.Float(), nullable=True),
    sa.Column('model_name', sa.String(length=64), nullable=True),
    sa.Column('meta', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_clips_job_id_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clips')),
    sa.UniqueConstraint('job_id', 'clip_id', name='uq_clips_job_clip')
    )
    with op.batch_alter_table('clips', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clips_clip_id'), ['clip_id'], unique=False)

    op.create_table('upstream_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=True),
    sa.Column('attempt_no', sa.Integer(), nullable=True),
    sa.Column('operation', sa.String(length=32), nullable=False),
    sa.Column('endpoint', sa.String(length=32), nullable=False),
    sa.Column('request_summary', sa.JSON(), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('upstream_task_id', sa.String(length=128), nullable=True),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.Column('possible_duplicate', sa.Boolean(), nullable=False),
    sa.Column('api_key_id', sa.String(length=32), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_upstream_attempts_job_id_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upstream_attempts'))
    )
    with op.batch_alter_table('upstream_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upstream_attempts_api_key_id'), ['api_key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_upstream_attempts_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_upstream_attempts_started_at'), ['started_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('upstream_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upstream_attempts_started_at'))
        batch_op.drop_index(batch_op.f('ix_upstream_attempts_job_id'))
        batch_op.drop_index(batch_op.f('ix_upstream_attempts_api_key_id'))

    op.drop_table('upstream_attempts')
    with op.batch_alter_table('clips', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clips_clip_id'))

    op.drop_table('clips')
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifacts_job_id'))

    op.drop_table('artifacts')
    op.drop_table('pipeline_steps')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_upstream_task_id'))
        batch_op.drop_index('ix_jobs_status_next_check')
        batch_op.drop_index(batch_op.f('ix_jobs_pipeline_id'))
        batch_op.drop_index(batch_op.f('ix_jobs_bulk_id'))
        batch_op.drop_index(batch_op.f('ix_jobs_api_key_id'))

    op.drop_table('jobs')
    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.drop_index('ix_pipelines_status_next_check')
        batch_op.drop_index(batch_op.f('ix_pipelines_bulk_id'))
        batch_op.drop_index(batch_op.f('ix_pipelines_api_key_id'))

    op.drop_table('pipelines')
    with op.batch_alter_table('bulk_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bulk_lines_bulk_id'))

    op.drop_table('bulk_lines')
    op.drop_table('rate_buckets')
    op.drop_table('idempotency_keys')
    op.drop_table('heartbeats')
    op.drop_table('disabled_endpoints')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_status_next')
        batch_op.drop_index(batch_op.f('ix_deliveries_api_key_id'))

    op.drop_table('deliveries')
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callbacks_job_id'))

    op.drop_table('callbacks')
    with op.batch_alter_table('bulk_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bulk_batches_api_key_id'))

    op.drop_table('bulk_batches')
    op.drop_table('api_keys')


"""artifact store keys and the beat lease

Revision ID: 0006_artifact_store
Revises: 0005_upstream_dialects
Create Date: 2026-11-30 02:45:00.000000

Several hosts (issue 13): each artifact row names its object in the artifact store (``storage_key``), so any host
can serve it and tell whether it is still stored; and ``beat_leases`` holds the lock that keeps one beat sending.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006_artifact_store'
down_revision = '0005_upstream_dialects'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('storage_key', sa.Text(), nullable=True))
    op.create_table('beat_leases',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_beat_leases'))
    )


def downgrade() -> None:
    op.drop_table('beat_leases')
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.drop_column('storage_key')

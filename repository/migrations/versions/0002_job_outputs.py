"""Job outputs: the file a queued job made for the one who asked (a print job's PDF).

Kept in the catalogue DB, which every web node and worker already shares, so the PDF reaches the
one who asked from any node; removed after repository.job_records.OUTPUT_DAYS days.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
rebuilds_projection = False


def upgrade() -> None:
    op.create_table(
        "job_outputs",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    with op.batch_alter_table("job_outputs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_outputs_created"), ["created"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_outputs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_outputs_created"))
    op.drop_table("job_outputs")

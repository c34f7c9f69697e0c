from pentad.migrate import run_env
from services.segmentation.models import Base

run_env(Base.metadata)

from pentad.migrate import run_env
from services.promotion.models import Base

run_env(Base.metadata)

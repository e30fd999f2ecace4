"""Contains all the data models used in inputs/outputs"""

from .admin_list_users_order_by import AdminListUsersOrderBy
from .admin_list_users_role import AdminListUsersRole
from .admin_list_users_sort import AdminListUsersSort
from .batch_meta import BatchMeta
from .client_config import ClientConfig
from .cursor_links import CursorLinks
from .cursor_meta import CursorMeta
from .docs_openapi_document_response_200 import DocsOpenapiDocumentResponse200
from .feedback import Feedback
from .feedback_cursor_page import FeedbackCursorPage
from .feedback_input import FeedbackInput
from .feedback_list_feedback_order_by import FeedbackListFeedbackOrderBy
from .feedback_list_feedback_sort import FeedbackListFeedbackSort
from .feedback_page import FeedbackPage
from .health import Health
from .health_status import HealthStatus
from .index_index_response_200 import IndexIndexResponse200
from .index_index_response_200_links import IndexIndexResponse200Links
from .login import Login
from .offset_links import OffsetLinks
from .offset_meta import OffsetMeta
from .pagination_settings import PaginationSettings
from .password_reset_confirm import PasswordResetConfirm
from .password_reset_request import PasswordResetRequest
from .problem import Problem
from .problem_errors import ProblemErrors
from .problem_type import ProblemType
from .product import Product
from .product_batch import ProductBatch
from .product_cursor_page import ProductCursorPage
from .product_input import ProductInput
from .product_page import ProductPage
from .product_replace import ProductReplace
from .product_replace_input import ProductReplaceInput
from .product_replace_patch import ProductReplacePatch
from .product_replace_patch_input import ProductReplacePatchInput
from .products_export_products_format import ProductsExportProductsFormat
from .products_list_products_order_by import ProductsListProductsOrderBy
from .products_list_products_sort import ProductsListProductsSort
from .readiness import Readiness
from .readiness_database import ReadinessDatabase
from .readiness_status import ReadinessStatus
from .refresh import Refresh
from .register import Register
from .session import Session
from .session_list import SessionList
from .token import Token
from .token_token_type import TokenTokenType
from .user import User
from .user_create import UserCreate
from .user_create_role import UserCreateRole
from .user_cursor_page import UserCursorPage
from .user_page import UserPage
from .user_role import UserRole
from .user_update import UserUpdate
from .user_update_patch import UserUpdatePatch
from .user_update_patch_role import UserUpdatePatchRole
from .user_update_role import UserUpdateRole

__all__ = (
    "AdminListUsersOrderBy",
    "AdminListUsersRole",
    "AdminListUsersSort",
    "BatchMeta",
    "ClientConfig",
    "CursorLinks",
    "CursorMeta",
    "DocsOpenapiDocumentResponse200",
    "Feedback",
    "FeedbackCursorPage",
    "FeedbackInput",
    "FeedbackListFeedbackOrderBy",
    "FeedbackListFeedbackSort",
    "FeedbackPage",
    "Health",
    "HealthStatus",
    "IndexIndexResponse200",
    "IndexIndexResponse200Links",
    "Login",
    "OffsetLinks",
    "OffsetMeta",
    "PaginationSettings",
    "PasswordResetConfirm",
    "PasswordResetRequest",
    "Problem",
    "ProblemErrors",
    "ProblemType",
    "Product",
    "ProductBatch",
    "ProductCursorPage",
    "ProductInput",
    "ProductPage",
    "ProductReplace",
    "ProductReplaceInput",
    "ProductReplacePatch",
    "ProductReplacePatchInput",
    "ProductsExportProductsFormat",
    "ProductsListProductsOrderBy",
    "ProductsListProductsSort",
    "Readiness",
    "ReadinessDatabase",
    "ReadinessStatus",
    "Refresh",
    "Register",
    "Session",
    "SessionList",
    "Token",
    "TokenTokenType",
    "User",
    "UserCreate",
    "UserCreateRole",
    "UserCursorPage",
    "UserPage",
    "UserRole",
    "UserUpdate",
    "UserUpdatePatch",
    "UserUpdatePatchRole",
    "UserUpdateRole",
)
